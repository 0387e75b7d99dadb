"""DistillLoss: traits, the keyword policy, valid_mask and loss_weight."""
import pytest
import torch

from mmkd.models.losses import (ATLoss, CCSLoss, ChannelWiseDivergence,
                                FitNetsLoss, ICKDLoss, KDLoss)
from mmkd.models.losses.base import (DistillContext, DistillLoss,
                                     mask_features, resize_mask)


class _SumSq(DistillLoss):
    """sum (S - T)^2: a per-pixel loss masked by zeroing (the default)."""
    supports_valid_mask = True

    def compute(self, student, teacher):
        return (student - teacher).pow(2).sum()


class _Global(DistillLoss):
    """A loss with no per-pixel form."""

    def compute(self, student, teacher):
        return (student.mean() - teacher.mean()).abs()


def test_traits_of_registered_losses():
    # (requires_target, supports_valid_mask, requires_equal_channels,
    #  masks_in_compute) as the distiller reads them
    expected = {
        KDLoss: (True, False, True, False),
        ICKDLoss: (False, True, True, False),
        ChannelWiseDivergence: (False, True, True, True),
        ATLoss: (False, True, False, False),
        FitNetsLoss: (False, True, True, True),
        CCSLoss: (False, True, True, False),
    }
    for cls, traits in expected.items():
        loss = cls()
        assert isinstance(loss, DistillLoss)
        assert (loss.requires_target, loss.supports_valid_mask,
                loss.requires_equal_channels,
                loss.masks_in_compute) == traits, cls.__name__
        assert loss.uses_valid_mask is False and loss.min_batch == 1
        assert loss.accepts_multiple is False
    for cls in (ICKDLoss, ChannelWiseDivergence, ATLoss, FitNetsLoss,
                CCSLoss):
        loss = cls(mask_invalid=True)
        assert loss.uses_valid_mask is True
        assert loss.accepted_kwargs() == ('valid_mask', )
        # per instance: the class keeps its default
        assert cls.uses_valid_mask is False
    assert KDLoss().accepted_kwargs() == ('target', )


def test_unknown_kwarg_names_accepted_ones():
    s = torch.randn(2, 3, 4, 4)
    with pytest.raises(TypeError, match=r"_SumSq.forward\(\) got unexpected "
                       r"keyword arguments \['beta', 'gamma'\]; it accepts "
                       r"\(student, teacher\)$"):
        _SumSq()(s, s, gamma=1, beta=2)
    with pytest.raises(TypeError, match=r"\['valid_mask'\]; it accepts "
                       r"\(student, teacher\)"):
        _SumSq()(s, s, valid_mask=torch.ones(2, 4, 4, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"\['tau'\]; it accepts \(student, "
                       r"teacher, valid_mask\)"):
        _SumSq(mask_invalid=True)(s, s, tau=1)
    with pytest.raises(TypeError, match=r"\['valid_mask'\]; it accepts "
                       r"\(student, teacher, target\)"):
        KDLoss()(s, s, valid_mask=None)


def test_mask_invalid_needs_per_pixel_form():
    with pytest.raises(ValueError, match=r'_Global does not support '
                       r'mask_invalid=True \(it has no per-pixel form\)'):
        _Global(mask_invalid=True)
    # KD leaves ignored pixels out through its labels: no such option
    from mmkd.registry import MODELS
    with pytest.raises(TypeError, match='mask_invalid'):
        MODELS.build(dict(type='KDLoss', mask_invalid=True))


def test_mask_invalid_leaves_pixels_out_by_hand():
    # B=1, C=1, 1x3 map; errors per pixel 1, 4, 100; pixel 2 masked
    s = torch.tensor([[[[1., 2., 10.]]]])
    t = torch.zeros(1, 1, 1, 3)
    mask = torch.tensor([[[True, True, False]]])
    assert _SumSq()(s, t).item() == pytest.approx(105)
    loss = _SumSq(mask_invalid=True)
    assert loss(s, t, valid_mask=mask).item() == pytest.approx(5)
    # the mask comes at label resolution: nearest-resized to the map
    # (1x6 labels -> 1x3: columns 0, 2, 4 are kept)
    fine = torch.tensor([[[True, False, True, True, False, True]]])
    assert loss(s, t, valid_mask=fine).item() == pytest.approx(5)
    # a mask is required once the loss was built with mask_invalid=True
    with pytest.raises(TypeError, match=r'mask_invalid=True: pass '
                       r'valid_mask='):
        loss(s, t)
    with pytest.raises(ValueError, match='valid_mask must be a B x H x W '
                       'bool tensor'):
        loss(s, t, valid_mask=mask.float())
    with pytest.raises(ValueError, match='valid_mask must be a B x H x W'):
        loss(s, t, valid_mask=mask[0])
    with pytest.raises(ValueError, match='valid_mask has batch size 2'):
        loss(s, t, valid_mask=mask.expand(2, 1, 3))


def test_mask_features_and_resize_mask():
    mask = torch.tensor([[[True, False], [False, True]]])
    assert resize_mask(mask, (2, 2)) is mask
    big = resize_mask(mask, (4, 4))
    assert big.dtype == torch.bool and big.shape == (1, 4, 4)
    assert big[0, :2, :2].all() and not big[0, :2, 2:].any()
    x = torch.ones(1, 2, 4, 4)
    s, t = mask_features((x, 2 * x), 3 * x, mask)
    assert isinstance(s, tuple) and len(s) == 2
    torch.testing.assert_close(s[1], 2 * big[:, None].float().expand(1, 2,
                                                                     4, 4))
    torch.testing.assert_close(t.sum(), torch.tensor(3. * 2 * 8))
    with pytest.raises(ValueError, match='valid_mask applies to B x C x H '
                       'x W'):
        mask_features(torch.ones(1, 3), torch.ones(1, 3), mask)


def test_loss_weight_applied():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(2, 3, 4, 4, generator=gen)
    t = torch.randn(2, 3, 4, 4, generator=gen)
    base = _SumSq()(s, t)
    assert base.item() == pytest.approx((s - t).pow(2).sum().item())
    torch.testing.assert_close(_SumSq(loss_weight=2.5)(s, t), 2.5 * base)
    torch.testing.assert_close(_SumSq(loss_weight=0)(s, t), 0 * base)
    for cls in (ICKDLoss, ChannelWiseDivergence, ATLoss, FitNetsLoss,
                CCSLoss):
        torch.testing.assert_close(
            cls(loss_weight=3.0)(s, t), 3.0 * cls()(s, t))
    for bad in ('1', None, True):
        with pytest.raises(ValueError, match='loss_weight must be a number'):
            _SumSq(loss_weight=bad)
    assert 'loss_weight=2.5' in repr(_SumSq(loss_weight=2.5))


def test_setup_is_a_no_op_by_default():
    loss = _SumSq()
    ctx = DistillContext(name='loss_x', student_shapes=(torch.Size(
        (2, 3, 4, 4)), ), teacher_shapes=(torch.Size((2, 3, 4, 4)), ))
    assert loss.setup(ctx) is None
    with pytest.raises(NotImplementedError):
        DistillLoss()(torch.ones(1), torch.ones(1))
