"""Tiny mmseg segmentors that build and run fast on CPU (test helpers)."""


def tiny_deeplabv3(base_channels=8, head_channels=16, num_classes=5):
    """A DeepLabV3 on a narrow ResNetV1c-18: the VOC student family, tiny."""
    norm_cfg = dict(type='BN', requires_grad=True)
    stage4 = base_channels * 8
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(
            type='SegDataPreProcessor',
            size=(32, 32),
            mean=[123.675, 116.28, 103.53],
            std=[58.395, 57.12, 57.375],
            bgr_to_rgb=True,
            pad_val=0,
            seg_pad_val=255),
        backbone=dict(
            type='ResNetV1c',
            depth=18,
            stem_channels=base_channels,
            base_channels=base_channels,
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
            in_channels=stage4,
            in_index=3,
            channels=head_channels,
            dilations=(1, 2, 3, 4),
            dropout_ratio=0.1,
            num_classes=num_classes,
            norm_cfg=norm_cfg,
            align_corners=False,
            loss_decode=dict(
                type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
        auxiliary_head=dict(
            type='FCNHead',
            in_channels=base_channels * 4,
            in_index=2,
            channels=head_channels // 2,
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
