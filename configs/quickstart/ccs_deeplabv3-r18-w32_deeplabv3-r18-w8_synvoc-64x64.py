# CCS (channel correlation structure) on the decode head's last feature, as
# ICKD-S (ConvBNConnector 32 -> 128 channels): intra-sample channel
# correlation on a 4x4 grid plus inter-sample correlation per channel.
_base_ = ['./_base_/distill.py']

# Ratio chosen on held-out training images (docs/efficacy.md, "The ratio
# from a held-out sweep"):
#   tools/benchmark_efficacy.py --sweep-ratios 0.125 0.5 2 8 \
#       --methods ccs irg --seeds 0
# held-out mIoU, student alone 41.86: 0.125 44.42, 0.5 36.21, 2 26.30, 8 20.18.
distill_weight_rule = dict(grad_ratio=0.125, batches=4)

model = dict(distill=[
    dict(name='loss_ccs',
         student=dict(module='decode_head.bottleneck',
                      source='output'),
         teacher=dict(module='decode_head.bottleneck',
                      source='output'),
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
