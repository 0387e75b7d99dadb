import math

import pytest
import torch

from mmkd.models.losses.cwd_loss import ChannelWiseDivergence, cwd_loss


def test_value_by_hand():
    # B=1, C=1, 1x2 map: teacher [ln 3, 0] -> spatial softmax [3/4, 1/4],
    # student [0, 0] -> [1/2, 1/2];
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.1308120; / (C B) = same
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    s = torch.zeros(1, 1, 1, 2)
    t = torch.tensor([[[[math.log(3.0), 0.0]]]])
    assert cwd_loss(s, t).item() == pytest.approx(kl)
    # a second, identical channel adds 0 to the sum and doubles C
    s2 = torch.cat([s, t], dim=1)
    t2 = torch.cat([t, t], dim=1)
    assert cwd_loss(s2, t2).item() == pytest.approx(kl / 2)
    # a second sample equal to the first: the sum doubles, so does B
    assert cwd_loss(s.repeat(2, 1, 1, 1),
                    t.repeat(2, 1, 1, 1)).item() == pytest.approx(kl)


def test_temperature_by_hand():
    # tau = 2: teacher softmax([ln 3 / 2, 0]) = [sqrt3, 1] / (sqrt3 + 1);
    # the loss is tau^2 * KL
    s = torch.zeros(1, 1, 2, 1)
    t = torch.tensor([[[[math.log(3.0)], [0.0]]]])
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    kl = p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))
    assert cwd_loss(s, t, tau=2.0).item() == pytest.approx(4 * kl)


def test_matches_channel_softmax_definition():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(2, 3, 4, 5, generator=gen)
    t = torch.randn(2, 3, 4, 5, generator=gen)
    tau = 3.0
    p_t = torch.softmax(t.flatten(2) / tau, dim=2)
    log_p_s = torch.log_softmax(s.flatten(2) / tau, dim=2)
    expected = tau**2 * (p_t * (p_t.log() - log_p_s)).sum() / (3 * 2)
    torch.testing.assert_close(cwd_loss(s, t, tau), expected)


def test_gradients():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 2, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 3, 2, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: cwd_loss(a, b, 2.0), (s, t))


def test_errors():
    s = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match='B x C x H x W'):
        cwd_loss(s.flatten(2), s.flatten(2))
    with pytest.raises(ValueError, match='differ in channels; add a '
                       'connector'):
        cwd_loss(s, torch.randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match='differ in spatial size'):
        cwd_loss(s, torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match='tau=-1 must be a positive'):
        cwd_loss(s, s, tau=-1)
    with pytest.raises(ValueError, match='tau=0 must be a positive'):
        ChannelWiseDivergence(tau=0)


def test_module_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(
        dict(type='ChannelWiseDivergence', tau=4.0, loss_weight=5.0))
    assert isinstance(loss, ChannelWiseDivergence)
    assert loss.requires_target is False
    # registered under this one name only
    names = [k for k, v in MODELS.module_dict.items()
             if v is ChannelWiseDivergence]
    assert names == ['ChannelWiseDivergence']
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 3, 4, 4, generator=gen)
    t = torch.randn(2, 3, 4, 4, generator=gen)
    torch.testing.assert_close(loss(s, t), 5.0 * cwd_loss(s, t, 4.0))
    with pytest.raises(TypeError, match=r"unexpected keyword arguments "
                       r"\['tau'\]; it accepts \(student, teacher\)"):
        loss(s, t, tau=2)
    with pytest.raises(TypeError, match='unexpected keyword'):
        loss(s, t, target=None)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('cwd_loss', 'ChannelWiseDivergence'):
        assert name in losses.__all__ and hasattr(losses, name)


def test_mask_invalid_by_hand():
    # test_value_by_hand's pair with a third, masked position whose logits
    # would dominate the softmax if it were only zeroed or kept
    kl = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    s = torch.tensor([[[[0., 0., -5.]]]])
    t = torch.tensor([[[[math.log(3.0), 0., 5.]]]])
    mask = torch.tensor([[[True, True, False]]])
    loss = ChannelWiseDivergence(mask_invalid=True)
    assert loss(s, t, valid_mask=mask).item() == pytest.approx(kl)
    assert cwd_loss(s, t, valid_mask=mask).item() == pytest.approx(kl)
    # zeroing the position instead would leave it in the softmax
    assert cwd_loss(s * mask, t * mask).item() != pytest.approx(kl)
    # a sample without any valid position is left out of B (not a zero
    # term that halves the mean), with no NaN
    s2 = torch.cat([s, torch.randn(1, 1, 1, 3)]).requires_grad_()
    t2 = torch.cat([t, torch.randn(1, 1, 1, 3)])
    mask2 = torch.cat([mask, torch.zeros(1, 1, 3, dtype=torch.bool)])
    out = cwd_loss(s2, t2, valid_mask=mask2)
    assert out.item() == pytest.approx(kl)
    out.backward()
    assert torch.isfinite(s2.grad).all() and s2.grad[1].abs().sum() == 0
    assert cwd_loss(s2, t2, valid_mask=mask2 & False).item() == 0


def test_mask_all_valid_and_gradients():
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(2, 3, 3, 4, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 3, 3, 4, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    every = torch.ones(2, 6, 8, dtype=torch.bool)
    torch.testing.assert_close(cwd_loss(s, t, 2.0, every), cwd_loss(s, t, 2.0))
    mask = torch.rand(2, 3, 4, generator=gen) > 0.4
    mask[1] = False
    assert torch.autograd.gradcheck(
        lambda a, b: cwd_loss(a, b, 2.0, mask), (s, t))


def test_degenerate_inputs():
    zeros = torch.zeros(2, 3, 4, 4, requires_grad=True)
    out = cwd_loss(zeros, torch.zeros(2, 3, 4, 4))
    assert out.item() == 0
    out.backward()
    assert torch.isfinite(zeros.grad).all()
    big = torch.zeros(1, 1, 1, 2)
    big[..., 0] = 1e4
    assert torch.isfinite(cwd_loss(-big, big))
