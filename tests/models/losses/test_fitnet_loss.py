import pytest
import torch

from mmkd.models.losses.fitnet_loss import FitNetsLoss, fitnet_loss


def test_value_by_hand():
    # sample 0: student [1, 2], teacher [0, 0] -> squared errors 1, 4
    # sample 1: student = teacher -> 0
    s = torch.tensor([[[[1., 2.]]], [[[3., 3.]]]])
    t = torch.tensor([[[[0., 0.]]], [[[3., 3.]]]])
    # mean over the 4 elements: 5 / 4; sum over C x H x W / batch: 5 / 2
    assert fitnet_loss(s, t).item() == pytest.approx(1.25)
    assert fitnet_loss(s, t, reduction='sum').item() == pytest.approx(2.5)


def test_gradients():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(2, 3, 2, 2, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 3, 2, 2, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    for reduction in ('mean', 'sum'):
        assert torch.autograd.gradcheck(
            lambda a, b: fitnet_loss(a, b, reduction), (s, t))
    s.grad = t.grad = None
    fitnet_loss(s, t).backward()
    # d/dS mean((S - T)^2) = 2 (S - T) / numel, d/dT = -d/dS
    expected = 2 * (s - t).detach() / s.numel()
    torch.testing.assert_close(s.grad, expected)
    torch.testing.assert_close(t.grad, -expected)


def test_errors():
    s = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match='B x C x H x W'):
        fitnet_loss(s.flatten(1), s.flatten(1))
    with pytest.raises(ValueError, match='differ in channels; add a '
                       'connector'):
        fitnet_loss(s, torch.randn(2, 6, 4, 4))
    with pytest.raises(ValueError, match='differ in spatial size'):
        fitnet_loss(s, torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="reduction='none' is not"):
        fitnet_loss(s, s, reduction='none')
    with pytest.raises(ValueError, match="reduction='max' is not"):
        FitNetsLoss(reduction='max')


def test_module_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(dict(type='FitNetsLoss', loss_weight=2.0,
                             reduction='sum'))
    assert isinstance(loss, FitNetsLoss) and loss.requires_target is False
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 4, 4, generator=gen)
    t = torch.randn(2, 3, 4, 4, generator=gen)
    torch.testing.assert_close(loss(s, t),
                               2.0 * fitnet_loss(s, t, reduction='sum'))
    with pytest.raises(TypeError, match=r"unexpected keyword arguments "
                       r"\['foo'\]; it accepts \(student, teacher\)"):
        loss(s, t, foo=1)
    with pytest.raises(TypeError, match='unexpected keyword'):
        loss(s, t, target=None)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('fitnet_loss', 'FitNetsLoss'):
        assert name in losses.__all__ and hasattr(losses, name)


def test_mask_invalid_by_hand():
    # C=2, 1x3 map, column 2 masked. Squared errors: channel 0 [1, 4, 100],
    # channel 1 [9, 0, 400]; valid: 1 + 4 + 9 + 0 = 14 over C x 2 = 4
    # elements -> mean 3.5; sum over C x H x W / B = 14
    s = torch.tensor([[[[1., 2., 10.]], [[3., 0., 20.]]]])
    t = torch.zeros(1, 2, 1, 3)
    mask = torch.tensor([[[True, True, False]]])
    mean = FitNetsLoss(mask_invalid=True)
    assert mean(s, t, valid_mask=mask).item() == pytest.approx(3.5)
    summed = FitNetsLoss(reduction='sum', mask_invalid=True)
    assert summed(s, t, valid_mask=mask).item() == pytest.approx(14)
    # nothing valid: 0, not NaN
    assert mean(s, t, valid_mask=mask & False).item() == 0
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(2, 3, 2, 2, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    b = torch.randn(2, 3, 2, 2, dtype=torch.float64, generator=gen)
    m = torch.tensor([[[True, False], [True, True]], [[False] * 2] * 2])
    assert torch.autograd.gradcheck(
        lambda x: fitnet_loss(x, b, 'mean', m), (a, ))


def test_degenerate_inputs():
    zeros = torch.zeros(2, 3, 4, 4, requires_grad=True)
    for reduction in ('mean', 'sum'):
        zeros.grad = None
        out = fitnet_loss(zeros, torch.zeros(2, 3, 4, 4), reduction)
        assert out.item() == 0
        out.backward()
        assert torch.isfinite(zeros.grad).all()
