# IRG as ./irg-images_... (vertex term per pixel on the class logits), with the
# edge graph built over the *positions of each image* instead of over the
# images of the batch (IRGPositionEdgeLoss): per image, the 64 x 64 graph of
# squared distances between the 8x8 logit map's pixel vectors, divided by
# that image's largest distance, matched to the teacher's. The rule first
# gives both items the same gradient norm (balance_items), else the edge
# term would again get under 1% of the gradient. Tried because the table's
# IRG trains as a logit MSE (its per-image graph gets under 1% of the
# gradient, and hurts with its full share: ./irg-balanced_..., and over
# regions of the batch: ./irg-regions4x4_...), and because a batch of 8
# images gives a graph of 28 distances where one image gives 2016 between
# its pixels: the teacher's grouping of pixels, the relation a segmenter
# learns (docs/efficacy.md, "IRG over positions").
_base_ = ['./irg-images_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

distill_weight_rule = dict(grad_ratio=0.5, batches=4, balance_items=True)

model = dict(distill=[
    _base_.model.distill[0],
    dict(name='loss_irg_edge',
         student=dict(module='decode_head.conv_seg', source='output'),
         teacher=dict(module='decode_head.conv_seg', source='output'),
         loss=dict(type='IRGPositionEdgeLoss', loss_weight=1.0)),
])
