# Teacher and student of the quickstart: DeepLabV3 (ASPP head + FCN
# auxiliary head) on ResNetV1c-18, the family of the VOC configs' student
# (configs/_base_/models/deeplabv3_r18-d8.py), narrowed so that both train
# on a 2-core CPU in minutes:
#
#   teacher_model  ResNetV1c-18, width 32 (1/2 of ResNet-18), head 128 ch
#   student_model  ResNetV1c-18, width 8  (1/8 of ResNet-18), head 32 ch
#
# Both use output stride 8 (strides (1, 2, 1, 1), dilations (1, 1, 2, 4),
# as the VOC configs' d8 models), an 8x8 feature map on the 64x64 images,
# with the ASPP rates scaled to it. Plain BN (one process). As in the
# papers, the backbones start from pretrained weights: `pretrained=None`
# here, and the quickstart / tools/benchmark_efficacy.py set
# `backbone.init_cfg` to the backbone pretrained once on the dataset's
# object-crop classification pretext (mmkd/apis/pretext.py, the ImageNet
# analogue; cached). Nothing is downloaded.
#
# The two differ only in the widths (stem/base channels, the heads' in/out
# channels). This file defines variables only (no `model`), so a config can
# take the student as its model and the teacher as the distiller's teacher.
norm_cfg = dict(type='BN', requires_grad=True)
# background + 6 shapes: the quickstart's data (./data.py)
num_classes = 7
data_preprocessor = dict(
    type='SegDataPreProcessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    # the training crop of ./data.py
    size=(64, 64))
teacher_model = dict(
    type='EncoderDecoder',
    data_preprocessor=data_preprocessor,
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        stem_channels=32,
        base_channels=32,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='ASPPHead',
        in_channels=256,
        in_index=3,
        channels=128,
        dilations=(1, 2, 3, 4),
        dropout_ratio=0.1,
        num_classes=num_classes,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=128,
        in_index=2,
        channels=64,
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
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
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
