import pytest
import torch

from mmkd.models.losses.dlkd_loss import dlkd_corr_loss
from mmkd.registry import MODELS


def test_values_and_order_by_hand():
    # one 4x4 map per channel, 2x2 grid: cells of 2x2 pixels, averaged
    x = torch.arange(2 * 2 * 16, dtype=torch.float32).reshape(2, 2, 4, 4)
    pool = MODELS.build(dict(type='RegionAvgPool', grid=2))
    y = pool(x)
    assert y.shape == (8, 2)
    # image 0, channel 0: values 0..15 row by row
    #   top-left (0, 1, 4, 5) -> 2.5, top-right (2, 3, 6, 7) -> 4.5,
    #   bottom-left (8, 9, 12, 13) -> 10.5, bottom-right -> 12.5
    assert y[:4, 0].tolist() == [2.5, 4.5, 10.5, 12.5]
    # channel 1 is channel 0 + 16; image 1 is image 0 + 32
    assert y[:4, 1].tolist() == [18.5, 20.5, 26.5, 28.5]
    assert y[4:, 0].tolist() == [34.5, 36.5, 42.5, 44.5]


def test_uneven_map_and_grid_one():
    x = torch.randn(3, 5, 7, 6)
    y = MODELS.build(dict(type='RegionAvgPool', grid=3))(x)
    assert y.shape == (27, 5)
    # the first region of image 1 is rows 0..2, cols 0..1 (adaptive cut)
    assert torch.allclose(y[9], x[1, :, 0:3, 0:2].mean(dim=(1, 2)))
    # grid 1 is the global average, as GlobalAvgPool gives it
    g1 = MODELS.build(dict(type='RegionAvgPool', grid=1))(x)
    gap = MODELS.build(dict(type='GlobalAvgPool'))(x)
    assert torch.equal(g1, gap)


def test_gradient_reaches_every_pixel():
    x = torch.randn(2, 3, 4, 4, requires_grad=True)
    y = MODELS.build(dict(type='RegionAvgPool', grid=2))(x)
    (y * torch.arange(1., 4.)).sum().backward()
    # each pixel is one of four in its cell: d/dx = channel weight / 4
    expected = torch.arange(1., 4.)[None, :, None, None].expand(2, 3, 4, 4)
    assert torch.allclose(x.grad, expected / 4)


def test_regions_feed_dlkd_as_samples():
    # identical maps on both sides: every region relation matches, loss 0;
    # a teacher whose regions differ gives a positive loss with gradient
    pool = MODELS.build(dict(type='RegionAvgPool', grid=2))
    s = torch.randn(2, 4, 4, 4, requires_grad=True)
    assert dlkd_corr_loss(pool(s), pool(s.detach())).item() == \
        pytest.approx(0.0, abs=1e-6)
    loss = dlkd_corr_loss(pool(s), pool(torch.randn(2, 4, 4, 4)))
    assert loss.item() > 0
    loss.backward()
    assert s.grad.abs().sum() > 0


@pytest.mark.parametrize('grid', [0, -2, 1.5, True, '4'])
def test_bad_grid(grid):
    with pytest.raises(ValueError, match='grid must be a positive int'):
        MODELS.build(dict(type='RegionAvgPool', grid=grid))


def test_bad_inputs():
    pool = MODELS.build(dict(type='RegionAvgPool', grid=4))
    with pytest.raises(ValueError, match=r'\(B, C, H, W\).*\(2, 8\).*drop'):
        pool(torch.randn(2, 8))
    with pytest.raises(ValueError, match=r'at least 4x4, got 3x8.*smaller'):
        pool(torch.randn(2, 8, 3, 8))
