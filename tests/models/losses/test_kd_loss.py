import math

import pytest
import torch
import torch.nn.functional as F

from mmkd.models.losses.kd_loss import KDLoss, kd_loss


LN3 = math.log(3.0)


def _kl_vs_uniform(z):
    """KL(softmax([z, 0]) || [1/2, 1/2]) = ln 2 + sum_k p_k ln p_k."""
    p = 1 / (1 + math.exp(-z))
    return math.log(2) + p * math.log(p) + (1 - p) * math.log(1 - p)


def test_value_by_hand():
    # one sample, K=2 classes, 1x2 logit map. Pixel 0: teacher [ln 3, 0] ->
    # p_T = [3/4, 1/4]; student [0, 0] -> p_S = [1/2, 1/2];
    # KL = 3/4 ln(3/2) + 1/4 ln(1/2) = 0.1308120... Pixel 1: equal logits,
    # KL = 0.
    kl0 = 0.75 * math.log(1.5) + 0.25 * math.log(0.5)
    assert kl0 == pytest.approx(0.1308120, abs=1e-7)
    s = torch.zeros(1, 2, 1, 2)
    t = torch.zeros(1, 2, 1, 2)
    t[0, 0, 0, 0] = LN3
    # no target: mean over both pixels
    assert kd_loss(s, t).item() == pytest.approx(kl0 / 2)
    # pixel 1 ignored: mean over the valid pixel only
    target = torch.tensor([[[1, 255]]])
    assert kd_loss(s, t, target).item() == pytest.approx(kl0)
    target = torch.tensor([[[1, 0]]])
    assert kd_loss(s, t, target).item() == pytest.approx(kl0 / 2)


def test_ignored_pixels_are_left_out():
    # Two pixels, K=2, student uniform. Pixel 0: teacher [ln 3, 0], small
    # KL kl0; pixel 1: teacher [20, 0], KL close to ln 2. Pixel 1 carries
    # the ignore label: with the labels the loss is kl0, without them the
    # mean (kl0 + kl1) / 2, about 3x larger -- a loss that dropped the
    # labels fails here.
    s = torch.zeros(1, 2, 1, 2)
    t = torch.zeros(1, 2, 1, 2)
    t[0, 0, 0, 0], t[0, 0, 0, 1] = LN3, 20.0
    kl0, kl1 = _kl_vs_uniform(LN3), _kl_vs_uniform(20.0)
    target = torch.tensor([[[0, 255]]])
    with_labels, without = kl0, (kl0 + kl1) / 2
    assert without > 2.5 * with_labels
    assert kd_loss(s, t, target).item() == pytest.approx(with_labels)
    assert kd_loss(s, t).item() == pytest.approx(without)
    # ignore_index is honoured, not hard-coded: 7 ignores pixel 1 too
    assert kd_loss(s, t, torch.tensor([[[0, 7]]]),
                   ignore_index=7).item() == pytest.approx(with_labels)
    assert kd_loss(s, t, target, ignore_index=7).item() == \
        pytest.approx(without)
    # through the module: the base class hands target= to compute()
    loss = KDLoss(loss_weight=2.0)
    assert loss(s, t, target=target).item() == pytest.approx(2 * with_labels)
    # labels at twice the logit resolution (resize='logits' upsamples)
    fine = torch.tensor([[[0, 0, 255, 255], [0, 0, 255, 255]]])
    coarse = kd_loss(s, t, fine, resize='target')
    assert coarse.item() == pytest.approx(with_labels)


def test_degenerate_inputs():
    zeros = torch.zeros(2, 3, 4, 4, requires_grad=True)
    out = kd_loss(zeros, torch.zeros(2, 3, 4, 4))
    assert out.item() == 0
    out.backward()
    assert torch.isfinite(zeros.grad).all()
    # huge logits: log-softmax keeps the KL finite
    big = torch.full((1, 2, 1, 1), 1e4)
    big[0, 1] = -1e4
    out = kd_loss(-big, big)
    assert torch.isfinite(out) and out.item() > 1e3


def test_temperature_by_hand():
    # tau = 2: p_T = softmax([ln 3 / 2, 0]) = [sqrt3, 1] / (sqrt3 + 1),
    # p_S uniform; the loss is tau^2 * KL.
    s = torch.zeros(1, 2, 1, 1)
    t = torch.zeros(1, 2, 1, 1)
    t[0, 0] = LN3
    expected = 4 * _kl_vs_uniform(LN3 / 2)
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    assert expected == pytest.approx(
        4 * (p * math.log(2 * p) + (1 - p) * math.log(2 * (1 - p))))
    assert kd_loss(s, t, tau=2.0).item() == pytest.approx(expected)


def test_resize_modes_by_hand():
    # logits 1x2, labels 1x4 (K=2, student uniform, teacher pixel 0 =
    # [ln 3, 0], pixel 1 = [0, 0]).
    s = torch.zeros(1, 2, 1, 2)
    t = torch.zeros(1, 2, 1, 2)
    t[0, 0, 0, 0] = LN3
    target = torch.tensor([[[0, 255, 255, 1]]])
    # resize='logits': bilinear, align_corners=False, 2 -> 4 columns:
    # sample points -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to 1)
    # -> teacher class-0 logit ln3 * [1, 3/4, 1/4, 0]; labels keep
    # columns 0 and 3.
    expected = (_kl_vs_uniform(LN3) + _kl_vs_uniform(0.0)) / 2
    out = kd_loss(s, t, target, resize='logits')
    assert out.item() == pytest.approx(expected)
    # every column valid: all four upsampled pixels count
    out = kd_loss(s, t, torch.zeros(1, 1, 4, dtype=torch.long))
    expected = sum(_kl_vs_uniform(LN3 * w) for w in (1, .75, .25, 0)) / 4
    assert out.item() == pytest.approx(expected)
    # resize='target': nearest downsampling 4 -> 2 keeps label columns 0
    # and 2, i.e. [0, 255]: only logit pixel 0 counts.
    out = kd_loss(s, t, target, resize='target')
    assert out.item() == pytest.approx(_kl_vs_uniform(LN3))


def test_target_with_channel_axis_and_same_size():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(2, 5, 4, 4, generator=gen)
    t = torch.randn(2, 5, 4, 4, generator=gen)
    target = torch.randint(0, 5, (2, 4, 4), generator=gen)
    target[0, 0] = 255
    a = kd_loss(s, t, target)
    b = kd_loss(s, t, target[:, None])
    torch.testing.assert_close(a, b)
    # same size: no resizing in either mode
    torch.testing.assert_close(a, kd_loss(s, t, target, resize='target'))
    kl = F.kl_div(F.log_softmax(s, 1), F.log_softmax(t, 1),
                  log_target=True, reduction='none').sum(1)
    valid = target != 255
    torch.testing.assert_close(a, kl[valid].mean())


def test_all_ignored_is_zero_with_grad():
    s = torch.randn(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 3, 4, 4)
    target = torch.full((2, 8, 8), 255)
    for resize in ('logits', 'target'):
        s.grad = None
        out = kd_loss(s, t, target, resize=resize)
        assert out.item() == 0 and out.requires_grad
        out.backward()
        assert torch.isfinite(s.grad).all() and s.grad.abs().sum() == 0


def test_gradients():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 3, 4, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 3, 3, 4, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    target = torch.randint(0, 3, (2, 5, 7), generator=gen)
    target[:, 0] = 255
    for resize in ('logits', 'target'):
        assert torch.autograd.gradcheck(
            lambda a, b: kd_loss(a, b, target, tau=2.0, resize=resize),
            (s, t))


def test_errors():
    s = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match='B x K x h x w'):
        kd_loss(s[0], s[0])
    with pytest.raises(ValueError, match='differ in the number of classes'):
        kd_loss(s, torch.randn(2, 4, 4, 4))
    with pytest.raises(ValueError, match='differ in spatial size'):
        kd_loss(s, torch.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match='integer class indices'):
        kd_loss(s, s, torch.zeros(2, 4, 4))
    with pytest.raises(ValueError, match='target must be B x H x W'):
        kd_loss(s, s, torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match='target has batch size 3'):
        kd_loss(s, s, torch.zeros(3, 4, 4, dtype=torch.long))
    with pytest.raises(ValueError, match='tau=0 must be a positive'):
        kd_loss(s, s, tau=0)
    with pytest.raises(ValueError, match="resize='nearest' is not"):
        kd_loss(s, s, resize='nearest')
    with pytest.raises(ValueError, match="resize='nearest' is not"):
        KDLoss(resize='nearest')


def test_module_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(dict(type='KDLoss', tau=2.0, loss_weight=0.5,
                             ignore_index=7))
    assert isinstance(loss, KDLoss) and loss.requires_target is True
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 3, 4, 4, generator=gen)
    t = torch.randn(2, 3, 4, 4, generator=gen)
    target = torch.randint(0, 8, (2, 8, 8), generator=gen)
    torch.testing.assert_close(
        loss(s, t, target=target),
        0.5 * kd_loss(s, t, target, tau=2.0, ignore_index=7))
    with pytest.raises(TypeError, match=r"unexpected keyword arguments "
                       r"\['weight'\]; it accepts \(student, teacher, "
                       r"target\)"):
        loss(s, t, target=target, weight=None)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('kd_loss', 'KDLoss'):
        assert name in losses.__all__ and hasattr(losses, name)
