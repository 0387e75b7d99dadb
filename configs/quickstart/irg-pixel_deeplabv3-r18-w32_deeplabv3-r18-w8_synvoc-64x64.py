# IRG with the vertex term per pixel (squared distance of the class logits
# at every pixel, the option docs/methods.md names) instead of on the
# image-pooled logits; edge and transformation terms as in ./irg-3terms_... .
# Tried because IRG loses on this protocol and its pooled vertex term gives
# the per-pixel task no per-pixel target (docs/efficacy.md, "KD and IRG").
_base_ = ['./irg-3terms_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

model = dict(distill=[
    dict(_base_.model.distill[0],
         loss=dict(_base_.model.distill[0].loss, per_pixel=True)),
    _base_.model.distill[1], _base_.model.distill[2]
])
