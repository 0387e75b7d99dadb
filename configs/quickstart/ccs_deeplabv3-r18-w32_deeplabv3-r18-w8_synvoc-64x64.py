# CCS (channel correlation structure) on the decode head's last feature
# before its ReLU (input of `decode_head.bottleneck.activate`), as ICKD-S
# (ConvBNConnector 32 -> 128 channels): intra-sample channel correlation on
# a 4x4 grid plus inter-sample correlation per channel. After the ReLU it
# lost on every seed (./ccs-postrelu_..., docs/efficacy.md).
_base_ = ['./_base_/distill.py']

# Ratio chosen on held-out training images (docs/efficacy.md, "The ratio
# from a held-out sweep"), run as the variant `ccs_pre` before this config
# took its feature:
#   tools/benchmark_efficacy.py --sweep-ratios 0.125 0.5 2 8 32 \
#       --methods ccs_pre --seeds 0
# held-out mIoU, student alone 42.41: 0.125 47.07, 0.5 48.35, 2 50.06,
# 8 50.91, 32 49.61.
distill_weight_rule = dict(grad_ratio=8.0, batches=4)

model = dict(distill=[
    dict(name='loss_ccs',
         student=dict(module='decode_head.bottleneck.activate',
                      source='input'),
         teacher=dict(module='decode_head.bottleneck.activate',
                      source='input'),
         student_transforms=[
             dict(type='ConvBNConnector'),
             dict(type='Resize', mode='bilinear')
         ],
         loss=dict(type='CCSLoss',
                   grid_size=(4, 4),
                   intra_weight=1.0,
                   inter_weight=1.0,
                   loss_weight=1.0)),
])
