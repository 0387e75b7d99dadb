# Teacher for distillation: DeepLabV3+ ResNetV1c-101 D8 on Pascal VOC 2012
# aug (512x512, 20k iterations, batch 16), mmseg model zoo, mIoU 77.22
# (single scale; 78.59 with multi-scale + flip): the teacher of the ICKD
# paper's VOC table (the paper's own DeepLabV3+ R101 scored 77.89).
#
# Defines two variables, to be merged next to a student config:
#   teacher_checkpoint  the mmseg model-zoo checkpoint (path or URL)
#   teacher_model       the teacher segmentor, exactly the model of
#                       ../../teachers/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py
#                       except pretrained=None: every teacher weight comes
#                       from teacher_checkpoint, so the ImageNet backbone
#                       is not downloaded (tests/test_configs.py checks that
#                       the two stay identical).
# It is written out in full rather than inherited from ../models/ because a
# config may not take the same key (model, norm_cfg, ...) from two bases.
# Model structure from mmsegmentation 1.2.2
# `configs/_base_/models/deeplabv3plus_r50-d8.py`
# with depth 101 and 21 classes (Apache-2.0, Copyright (c) OpenMMLab).
teacher_checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/deeplabv3plus_r101-d8_512x512_20k_voc12aug/deeplabv3plus_r101-d8_512x512_20k_voc12aug_20200617_102345-c7ff3d56.pth'  # noqa: E501
teacher_model = dict(
    type='EncoderDecoder',
    # SegDistiller preprocesses the batch with the student's
    # data_preprocessor (the same normalisation); this one keeps the
    # teacher dict a complete, standalone mmseg segmentor.
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255,
        size=(512, 512)),
    pretrained=None,
    backbone=dict(
        type='ResNetV1c',
        depth=101,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        contract_dilation=True),
    decode_head=dict(
        type='DepthwiseSeparableASPPHead',
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(
        type='FCNHead',
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=21,
        norm_cfg=dict(type='SyncBN', requires_grad=True),
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
