# DLKD as ./dlkd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py, on
# region embeddings instead of one embedding per image (docs/methods.md,
# "DLKD"): backbone.layer4 (64x64 at 512x512, output stride 8) average-
# pooled over a 4x4 grid on both sides, each 16x16 cell one sample, so the
# global batch of 16 images gives 256 samples for the alignment and the
# correlation. The form the efficacy protocol uses (docs/efficacy.md, "DLKD
# on regions": twice the per-image form's gain on held-out images at
# 64x64); not yet run on VOC. Weights as the per-image config's (the
# alignment term starts at ~2 with either pooling).
#   python tools/train.py configs/dlkd/dlkd-regions4x4_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py  # noqa: E501
_base_ = ['./dlkd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py']

_regions = dict(type='RegionAvgPool', grid=4)
model = dict(distill=[
    dict(item,
         student_transforms=[_regions, dict(type='MLPProjector')],
         teacher_transforms=[_regions])
    for item in _base_.model.distill
])
