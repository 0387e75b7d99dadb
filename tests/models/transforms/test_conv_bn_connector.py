import pytest
import torch

from mmkd.registry import MODELS


def test_maps_channels_and_trains():
    connector = MODELS.build(
        dict(type='ConvBNConnector', in_channels=4, out_channels=6))
    x = torch.randn(2, 4, 3, 5)
    y = connector(x)
    assert y.shape == (2, 6, 3, 5)
    assert connector.conv.conv.bias is None  # BN follows: no conv bias
    y.square().mean().backward()
    assert connector.conv.conv.weight.grad.abs().sum() > 0


def test_plain_conv_without_norm_has_bias():
    connector = MODELS.build(
        dict(
            type='ConvBNConnector',
            in_channels=4,
            out_channels=6,
            kernel_size=3,
            norm_cfg=None))
    assert connector.conv.conv.bias is not None
    assert connector(torch.randn(1, 4, 5, 5)).shape == (1, 6, 5, 5)


def test_wrong_channels():
    connector = MODELS.build(
        dict(type='ConvBNConnector', in_channels=4, out_channels=6))
    with pytest.raises(ValueError, match=r'expects \(B, 4, H, W\).*\(1, 3'):
        connector(torch.randn(1, 3, 2, 2))
