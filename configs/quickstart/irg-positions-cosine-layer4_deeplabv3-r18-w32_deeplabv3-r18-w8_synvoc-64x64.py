# IRG as ./irg_... (vertex term per pixel on the class logits, the cosine
# edge graph over the positions of each image), with the graph on layer4's
# output (FitNets' feature; 64 student and 256 teacher channels) instead
# of the decode bottleneck. Tried because the squared
# graph on layer4 (./irg-positions-layer4_...) collapsed the student on
# held-out images while the cosine graph on the bottleneck held at ratio 2
# where the squared one collapsed: does the cosine form make layer4's
# pixel geometry learnable (docs/efficacy.md, "IRG over positions")?
# Held out (3600 student iterations, seeds 0 1, student alone 55.07 /
# 53.12):
#   tools/benchmark_efficacy.py --sweep-ratios 0.5 --methods irg_poscl4 \
#       --seeds 0 1 --iters student=3600
# 54.37 / 54.65 (54.51): no collapse (the squared graph here: 12.23 /
# 10.58), but below the cosine graph on the bottleneck (55.27 at 0.5).
_base_ = ['./irg_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

_feature = dict(module='backbone.layer4', source='output')
model = dict(distill=[
    _base_.model.distill[0],
    dict(_base_.model.distill[1], student=_feature, teacher=_feature),
])
