# Student model: DeepLabV3+ with a MobileNetV2 backbone, output stride 8.
# Adapted from mmsegmentation 1.2.2
# `configs/mobilenet_v2/mobilenet-v2-d8_deeplabv3plus_4xb4-160k_ade20k-512x512.py`
# (Apache-2.0, Copyright (c) OpenMMLab), which overrides mmseg's DeepLabV3+
# R101-D8 config: the same overrides, moved into a model-only base.
#
# MobileNetV2 stages 1/2/4/6 give 24/32/96/320 channels: the head reads
# stage 6 (320 ch) and keeps mmseg's 512 channels, its decoder projects
# stage 1 (24 ch, stride 4) to 48 channels, so the feature before the
# classifier (decode_head.sep_bottleneck output) has 512 channels at stride
# 4, like the R101 teacher's; the auxiliary FCN head reads stage 4 (96 ch).
_base_ = './deeplabv3plus_r50-d8.py'
model = dict(
    pretrained='mmcls://mobilenet_v2',
    backbone=dict(
        _delete_=True,
        type='MobileNetV2',
        widen_factor=1.,
        strides=(1, 2, 2, 1, 1, 1, 1),
        dilations=(1, 1, 1, 2, 2, 4, 4),
        out_indices=(1, 2, 4, 6),
        norm_cfg=dict(type='SyncBN', requires_grad=True)),
    decode_head=dict(in_channels=320, c1_in_channels=24),
    auxiliary_head=dict(in_channels=96))
