# IRG over positions, squared (./irg-positions-squared_...: vertex term per
# pixel on the logits, items balanced), with the position graph built on
# `layer4` (FitNets' feature, 64 student and 256 teacher channels, 8x8)
# instead of the decode bottleneck.
# Tried because over eight val seeds the bottleneck form gains on every seed
# but stays within 2 std (docs/efficacy.md, "IRG over positions"), and
# FitNets, the hint on `layer4`, closes about two thirds of the gap. On
# held-out images it collapses the student (12.23 / 10.58 mIoU against
# 55.07 / 53.12 alone at ratio 0.5); not run on val.
_base_ = ['./irg-positions-squared_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

_feature = dict(module='backbone.layer4', source='output')
model = dict(distill=[
    _base_.model.distill[0],
    dict(_base_.model.distill[1], student=_feature, teacher=_feature),
])
