# CCS (channel correlation structure) on the decode head's last feature
# before its ReLU (input of `decode_head.bottleneck.activate`), as ICKD-S
# (ConvBNConnector 32 -> 128 channels): intra-sample channel correlation on
# a 4x4 grid plus inter-sample correlation per channel. After the ReLU it
# lost on every seed (./ccs-postrelu_..., docs/efficacy.md).
_base_ = ['./_base_/distill.py']

# Ratio chosen on held-out training images over two seeds (docs/efficacy.md,
# "Sweeps over two seeds"):
#   tools/benchmark_efficacy.py --sweep-ratios 2 8 32 --methods ccs \
#       --seeds 0 1
# held-out mIoU, seeds 0 / 1 (student alone 42.41 / 38.17, mean 40.29):
# 2 50.06 / 51.61 (mean 50.84), 8 50.91 / 50.66 (50.78), 32 49.61 / 49.63
# (49.62). Seed 0 alone (run as the variant `ccs_pre`, this config before
# it took its feature: 0.125 47.07, 0.5 48.35) had chosen 8.
distill_weight_rule = dict(grad_ratio=2.0, batches=4)

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
