# CCS (channel correlation structure) on the decode head's last feature, as
# ICKD-S (ConvBNConnector 32 -> 128 channels): intra-sample channel
# correlation on a 4x4 grid plus inter-sample correlation per channel.
_base_ = ['./_base_/distill.py']

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
