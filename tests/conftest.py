"""Shared fixtures: tiny mmseg segmentors that build and run fast on CPU."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import mmkd  # noqa: F401


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


@pytest.fixture(autouse=True)
def _mmkd_scope():
    init_default_scope('mmkd')
    yield


@pytest.fixture
def student_cfg():
    return tiny_deeplabv3(base_channels=8, head_channels=16)


@pytest.fixture
def teacher_cfg():
    return tiny_deeplabv3(base_channels=16, head_channels=32)


@pytest.fixture
def make_batch():
    """Build a (inputs, data_samples) batch like SegDataPreProcessor's."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    def make(batch_size=2, size=32, num_classes=5, seed=0):
        gen = torch.Generator().manual_seed(seed)
        inputs = torch.randn(batch_size, 3, size, size, generator=gen)
        samples = []
        for _ in range(batch_size):
            label = torch.randint(
                0, num_classes, (1, size, size), generator=gen)
            label[:, :2, :] = 255  # some ignored pixels
            sample = SegDataSample(
                metainfo=dict(
                    img_shape=(size, size),
                    ori_shape=(size, size),
                    pad_shape=(size, size)))
            sample.gt_sem_seg = PixelData(data=label)
            samples.append(sample)
        return inputs, samples

    return make


@pytest.fixture
def clone_cfg():
    return copy.deepcopy
