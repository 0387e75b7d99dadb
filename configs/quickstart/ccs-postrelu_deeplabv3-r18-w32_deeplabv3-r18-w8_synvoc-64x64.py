# CCS on the decode head's bottleneck *after* its ReLU (the output of
# `decode_head.bottleneck`, the VOC CCS configs' feature); everything else
# as ./ccs_... Tried because it was the quickstart's CCS until the pre-ReLU
# form beat it on the protocol (docs/efficacy.md, "ICKD-S before the
# ReLU").
_base_ = ['./ccs_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

# Ratio chosen on held-out training images (docs/efficacy.md, "The ratio
# from a held-out sweep"), when this was the CCS config:
#   tools/benchmark_efficacy.py --sweep-ratios 0.125 0.5 2 8 \
#       --methods ccs irg --seeds 0
# held-out mIoU, student alone 41.86: 0.125 44.42, 0.5 36.21, 2 26.30, 8 20.18.
distill_weight_rule = dict(grad_ratio=0.125, batches=4)

model = dict(distill=[
    dict(_base_.model.distill[0],
         student=dict(module='decode_head.bottleneck', source='output'),
         teacher=dict(module='decode_head.bottleneck', source='output'))
])
