# Teacher and student of the quickstart: DeepLabV3 (ASPP head + FCN
# auxiliary head) on ResNetV1c-18, the family of the VOC configs' student
# (configs/_base_/models/deeplabv3_r18-d8.py), narrowed so that both train
# from scratch on a 2-core CPU in minutes:
#
#   teacher_model  ResNetV1c-18, width 16 (1/4 of ResNet-18), head 64 ch
#   student_model  ResNetV1c-18, width 8  (1/8 of ResNet-18), head 32 ch
#
# Both use output stride 16 (strides (1, 2, 2, 1), dilations (1, 1, 1, 2)),
# mmseg's cheaper DeepLabV3 variant (dilated stages are slow on CPU), with
# the ASPP rates scaled to the 8x8 feature map of a 128x128 image. Plain BN
# (one process) and no ImageNet weights (pretrained=None): everything trains
# from scratch on the synthetic data, and nothing is downloaded.
#
# The two differ only in the widths (stem/base channels, the heads' in/out
# channels). This file defines variables only (no `model`), so a config can
# take the student as its model and the teacher as the distiller's teacher.
norm_cfg = dict(type='BN', requires_grad=True)
num_classes = 10
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    # the training crop of ../../_base_/datasets/synthetic_voc.py
    size=(96, 96))
teacher_model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=16,
        base_channels=16,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 2),
        strides=(1, 2, 2, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='ASPPHead',
        in_channels=128,
        in_index=3,
        channels=64,
        dilations=(1, 2, 3, 4),
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=64,
        in_index=2,
        channels=32,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
student_model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=8,
        base_channels=8,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 1, 2),
        strides=(1, 2, 2, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='ASPPHead',
        in_channels=64,
        in_index=3,
        channels=32,
        dilations=(1, 2, 3, 4),
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=32,
        in_index=2,
        channels=16,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
