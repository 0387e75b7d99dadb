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
    s.grad = None
    t_param = t.detach().clone().requires_grad_()
    fitnet_loss(s, t_param.detach()).backward()
    # d/dS mean((S - T)^2) = 2 (S - T) / numel
    torch.testing.assert_close(s.grad, 2 * (s - t).detach() / s.numel())
    assert t_param.grad is None


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
    torch.testing.assert_close(loss(s, t, target=None), loss(s, t))
    with pytest.raises(TypeError, match='unexpected keyword'):
        loss(s, t, foo=1)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('fitnet_loss', 'FitNetsLoss'):
        assert name in losses.__all__ and hasattr(losses, name)
