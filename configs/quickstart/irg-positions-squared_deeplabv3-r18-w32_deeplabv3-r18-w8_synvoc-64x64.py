# IRG as ./irg_... (vertex term per pixel on the class logits, the edge
# graph over the positions of each image on the decode bottleneck before
# its ReLU), with IRG's squared distance between position vectors, each
# image's graph divided by its largest distance (detached), at ratio 0.5:
# the quickstart's IRG until the cosine graph replaced it (variant
# `irg_posf` when first tried). Tried because the table's IRG then trained
# as a logit MSE (its graph over the 8 images of a batch, 28 distances, got
# under 1% of the gradient), where one image's positions give 2016
# distances: the teacher's grouping of pixels (docs/efficacy.md, "IRG over
# positions").
#
# Held out (3600 student iterations, seeds 0 1, student alone 55.07 / 53.12):
#   tools/benchmark_efficacy.py --sweep-ratios 0.125 0.5 --methods irg_possq \
#       --seeds 0 1 --iters student=3600
# ratio 0.5 55.15 / 54.11 (54.63), 0.125 52.42 / 51.81 (52.12); at 2 and 8
# seed 0 collapsed (10.58, 11.84). On val over eight seeds it gained on all
# eight, +1.61 against a bar of 2.01.
_base_ = ['./irg_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

distill_weight_rule = dict(grad_ratio=0.5, batches=4, balance_items=True)

model = dict(distill=[
    _base_.model.distill[0],
    dict(_base_.model.distill[1],
         loss=dict(type='IRGPositionEdgeLoss', distance='squared',
                   loss_weight=1.0)),
])
