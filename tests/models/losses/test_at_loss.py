import math

import pytest
import torch

from mmkd.models.losses.at_loss import ATLoss, at_loss


def test_value_by_hand():
    # student B=1, C=2, 1x2 map, both channels [1, 0]:
    #   mean_c |F|^2 = [1, 0] -> normalised a_S = [1, 0]
    # teacher C=3 (channels may differ), all ones:
    #   mean_c |F|^2 = [1, 1] -> a_T = [1, 1] / sqrt(2)
    # ||a_S - a_T||^2 = (1 - 1/sqrt2)^2 + 1/2 = 2 - sqrt(2)
    s = torch.tensor([[[[1., 0.]], [[1., 0.]]]])
    t = torch.ones(1, 3, 1, 2)
    assert at_loss(s, t).item() == pytest.approx(2 - math.sqrt(2))
    # mean over the batch: a second sample with equal attention adds 0
    s2 = torch.cat([s, torch.ones(1, 2, 1, 2)])
    t2 = torch.cat([t, 2 * torch.ones(1, 3, 1, 2)])
    assert at_loss(s2, t2).item() == pytest.approx((2 - math.sqrt(2)) / 2)


def test_exponent_by_hand():
    # p = 1 uses |F|: student channels [2, 0] and [0, 0] -> mean [1, 0];
    # teacher [-1, -1] -> mean |F| = [1, 1]; same distance as above
    s = torch.tensor([[[[2., 0.]], [[0., 0.]]]])
    t = -torch.ones(1, 1, 1, 2)
    assert at_loss(s, t, p=1).item() == pytest.approx(2 - math.sqrt(2))
    # with p = 2, the student attention is still [1, 0]
    assert at_loss(s, t, p=2).item() == pytest.approx(2 - math.sqrt(2))


def test_matches_authors_code_up_to_weight():
    # authors: (at(x) - at(y)).pow(2).mean(), at = F.normalize(x.pow(2)
    # .mean(1).view(B, -1)); ours sums over positions instead of averaging
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(3, 4, 5, 6, generator=gen)
    t = torch.randn(3, 8, 5, 6, generator=gen)

    def at(x):
        return torch.nn.functional.normalize(
            x.pow(2).mean(1).view(x.size(0), -1))

    authors = (at(s) - at(t)).pow(2).mean()
    torch.testing.assert_close(at_loss(s, t), authors * 5 * 6)


def test_gradients():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 2, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 5, 2, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    assert torch.autograd.gradcheck(at_loss, (s, t))


def test_errors():
    s = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match='B x C x H x W'):
        at_loss(s[0], s[0])
    with pytest.raises(ValueError, match=r'differ in spatial size; resize.*'
                       r'channels may differ'):
        at_loss(s, torch.randn(2, 3, 4, 2))
    with pytest.raises(ValueError, match='differ in batch size'):
        at_loss(s, torch.randn(1, 3, 4, 4))
    with pytest.raises(ValueError, match='p=0 must be a positive'):
        at_loss(s, s, p=0)
    with pytest.raises(ValueError, match='p=-2 must be a positive'):
        ATLoss(p=-2)


def test_module_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(dict(type='ATLoss', p=2, loss_weight=1000.0))
    assert isinstance(loss, ATLoss) and loss.requires_target is False
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 3, 4, 4, generator=gen)
    t = torch.randn(2, 6, 4, 4, generator=gen)
    torch.testing.assert_close(loss(s, t), 1000.0 * at_loss(s, t))
    # one keyword policy (DistillLoss.check_kwargs): AT takes no labels
    with pytest.raises(TypeError, match=r"unexpected keyword arguments "
                       r"\['beta'\]; it accepts \(student, teacher\)"):
        loss(s, t, beta=1)
    with pytest.raises(TypeError, match='unexpected keyword'):
        loss(s, t, target=None)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('at_loss', 'ATLoss'):
        assert name in losses.__all__ and hasattr(losses, name)


def test_mask_invalid_by_hand():
    # the pair of test_value_by_hand with a third, masked column: masked
    # pixels get zero attention, so the value is that of the 1x2 pair
    s = torch.tensor([[[[1., 0., 5.]], [[1., 0., -3.]]]])
    t = torch.tensor([[[[1., 1., -7.]]] * 3])
    mask = torch.tensor([[[True, True, False]]])
    loss = ATLoss(mask_invalid=True)
    assert loss(s, t, valid_mask=mask).item() == pytest.approx(
        2 - math.sqrt(2))
    assert ATLoss()(s, t).item() != pytest.approx(2 - math.sqrt(2))


def test_degenerate_inputs():
    zeros = torch.zeros(2, 3, 4, 4, requires_grad=True)
    for t in (torch.zeros(2, 5, 4, 4), torch.ones(2, 5, 4, 4)):
        zeros.grad = None
        out = at_loss(zeros, t)
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(zeros.grad).all()
    # zero attention against uniform attention: ||0 - a_T||^2 = 1
    assert at_loss(zeros, torch.ones(2, 5, 4, 4)).item() == pytest.approx(1)
