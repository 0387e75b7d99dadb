# Student model: PSPNet with a ResNetV1c-18 backbone, output stride 8.
# Adapted from mmsegmentation 1.2.2
# `configs/pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-512x1024.py`
# (Apache-2.0, Copyright (c) OpenMMLab): the same overrides of the R50 base,
# moved into a model-only base.
#
# The PSP head reads stage 4 (512 ch) and has 128 channels (the feature
# before the classifier has 128 channels); the auxiliary FCN head reads
# stage 3 (256 ch) with 64 channels.
_base_ = './pspnet_r50-d8.py'
model = dict(
    pretrained='open-mmlab://resnet18_v1c',
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128),
    auxiliary_head=dict(in_channels=256, channels=64))
