# Student model: DeepLabV3+ with a ResNetV1c-18 backbone, output stride 8.
# Adapted from mmsegmentation 1.2.2
# `configs/deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py`
# (Apache-2.0, Copyright (c) OpenMMLab): the same overrides of the R50 base,
# moved into a model-only base.
#
# ResNet-18 stages give 64/128/256/512 channels: the head reads stage 4
# (512 ch) with 128 channels and projects stage 1 (64 ch, stride 4) to 12
# channels for the decoder, so the feature before the classifier
# (decode_head.sep_bottleneck output) has 128 channels at stride 4; the
# auxiliary FCN head reads stage 3 (256 ch) with 64 channels.
_base_ = './deeplabv3plus_r50-d8.py'
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(
        c1_in_channels=64,
        c1_channels=12,
        in_channels=512,
        channels=128,
    ),
    auxiliary_head=dict(in_channels=256, channels=64))
