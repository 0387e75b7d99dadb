"""Shared fixtures: tiny mmseg segmentors that build and run fast on CPU."""
import copy

import pytest
import torch
from mmengine.registry import init_default_scope

import mmkd  # noqa: F401
from tiny_models import tiny_deeplabv3


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
