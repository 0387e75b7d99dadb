import math

import pytest
import torch
import torch.nn.functional as F

from mmkd.models.losses.base import DistillContext
from mmkd.models.losses.dlkd_loss import (DLKDLoss, dlkd_align_loss,
                                          dlkd_corr_loss)


def _naive_corr(s, t, tau, diagonal):
    # loops and math.exp only: an independent reading of the formula
    b = len(s)

    def cos(u, v):
        nu = math.sqrt(sum(a * a for a in u))
        nv = math.sqrt(sum(a * a for a in v))
        return sum(a * c for a, c in zip(u, v)) / (nu * nv)

    total = 0.0
    for i in range(b):
        cols = [j for j in range(b) if diagonal or j != i]
        es = [math.exp(cos(s[i], s[j]) / tau) for j in cols]
        et = [math.exp(cos(t[i], t[j]) / tau) for j in cols]
        ps = [e / sum(es) for e in es]
        pt = [e / sum(et) for e in et]
        total += sum(q * math.log(q / p) for q, p in zip(pt, ps))
    return total / b


def test_align_by_hand():
    # cos(s_0, t_0) = 1, cos(s_1, t_1) = 1/sqrt2 -> 2 - (1 + 1/sqrt2)
    s = torch.tensor([[1., 0.], [0., 1.]])
    t = torch.tensor([[1., 0.], [1., 1.]])
    expected = 1 - 1 / math.sqrt(2)
    assert dlkd_align_loss(s, t).item() == pytest.approx(expected)
    # scale invariant; a pooled 1 x 1 map is an embedding too
    assert dlkd_align_loss(3 * s, t[:, :, None, None]).item() == \
        pytest.approx(expected)
    # opposite directions: the maximum, 4
    assert dlkd_align_loss(s, -s).item() == pytest.approx(4.0)


def test_corr_by_hand_off_diagonal():
    # teacher [e1, e2, e1], student [e1, e2, e2]; rows without diagonal:
    #   T: [0, 1], [0, 0], [1, 0]     S: [0, 0], [0, 1], [0, 1]
    # tau = 0.5: softmax([0, 1] / tau) = [a, 1 - a], a = 1 / (1 + e^2)
    t = torch.tensor([[1., 0.], [0., 1.], [1., 0.]])
    s = torch.tensor([[1., 0.], [0., 1.], [0., 1.]])
    a = 1 / (1 + math.e**2)
    row0 = a * math.log(2 * a) + (1 - a) * math.log(2 * (1 - a))
    row1 = 0.5 * math.log(0.5 / a) + 0.5 * math.log(0.5 / (1 - a))
    row2 = (1 - 2 * a) * 2  # (1-a) log((1-a)/a) + a log(a/(1-a))
    expected = (row0 + row1 + row2) / 3
    assert dlkd_corr_loss(s, t, tau=0.5).item() == pytest.approx(expected)


def test_corr_by_hand_with_diagonal():
    # T = [e1, e2]: rows [1, 0], [0, 1]; S = [e1, e1]: rows [1, 1];
    # tau = 1: p_T = [sig, 1 - sig], sig = e / (1 + e); p_S = [.5, .5]
    t = torch.tensor([[1., 0.], [0., 1.]])
    s = torch.tensor([[2., 0.], [1., 0.]])
    sig = math.e / (1 + math.e)
    row = sig * math.log(2 * sig) + (1 - sig) * math.log(2 * (1 - sig))
    assert dlkd_corr_loss(s, t, tau=1.0, diagonal=True).item() == \
        pytest.approx(row)
    # without the diagonal each row has one entry: nothing to compare
    assert dlkd_corr_loss(s, t, tau=1.0).item() == 0.0


@pytest.mark.parametrize('diagonal', [False, True])
def test_corr_against_naive(diagonal):
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(5, 3, generator=gen, dtype=torch.float64)
    t = torch.randn(5, 7, generator=gen, dtype=torch.float64)  # dims differ
    expected = _naive_corr(s.tolist(), t.tolist(), 0.5, diagonal)
    got = dlkd_corr_loss(s, t, tau=0.5, diagonal=diagonal)
    assert got.item() == pytest.approx(expected, rel=1e-10)
    assert got.item() > 0


def test_gradients():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(4, 3, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(4, 3, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    assert torch.autograd.gradcheck(dlkd_align_loss, (s, t))
    for diagonal in (False, True):
        assert torch.autograd.gradcheck(
            lambda a, b: dlkd_corr_loss(a, b, 0.5, diagonal), (s, t))
    # a frozen teacher gets no gradient, the student does
    t_param = t.detach().clone().requires_grad_()
    DLKDLoss(align_weight=1, corr_weight=1)(s, t_param.detach()).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    assert t_param.grad is None


def test_degenerate():
    s = torch.randn(1, 4, requires_grad=True)
    t = torch.randn(1, 6)
    # batch 1 without the diagonal: exactly 0, in the graph, zero gradient
    loss = dlkd_corr_loss(s, t)
    assert loss.item() == 0.0 and loss.requires_grad
    loss.backward()
    assert torch.equal(s.grad, torch.zeros_like(s))
    assert dlkd_corr_loss(s, t, diagonal=True).item() == 0.0
    # teacher == student: exactly 0
    x = torch.randn(6, 5)
    assert dlkd_corr_loss(x, x.clone()).item() == 0.0
    assert dlkd_align_loss(x, x.clone()).item() == pytest.approx(0, abs=1e-6)
    # zero embeddings: finite (cosine 0)
    z = torch.zeros(3, 4, requires_grad=True)
    total = dlkd_corr_loss(z, x[:3]) + dlkd_align_loss(z, x[:3, :4])
    total.backward()
    assert torch.isfinite(total) and torch.isfinite(z.grad).all()
    assert dlkd_align_loss(z, x[:3, :4]).item() == pytest.approx(2.0)


def test_module_value_and_fp16():
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(4, 8, generator=gen)
    t = torch.randn(4, 8, generator=gen)
    loss = DLKDLoss(align_weight=2, corr_weight=3, tau=0.3, loss_weight=0.5)
    expected = 0.5 * (2 * dlkd_align_loss(s, t) +
                      3 * dlkd_corr_loss(s, t, tau=0.3))
    torch.testing.assert_close(loss(s, t), expected)
    only_corr = DLKDLoss(align_weight=0, corr_weight=1, diagonal=True)
    torch.testing.assert_close(
        only_corr(s[:, :3], t), dlkd_corr_loss(s[:, :3], t, diagonal=True))
    half = loss(s.half(), t.half())
    assert half.dtype == torch.float32
    torch.testing.assert_close(half, expected, atol=1e-2, rtol=1e-2)


def test_errors():
    s, t = torch.randn(2, 4), torch.randn(2, 4)
    with pytest.raises(ValueError, match=r"GlobalAvgPool.*student_transforms"):
        dlkd_align_loss(torch.randn(2, 4, 3, 3), t)
    with pytest.raises(ValueError, match=r"GlobalAvgPool.*teacher_transforms"):
        dlkd_corr_loss(s, torch.randn(2, 4, 2, 1))
    with pytest.raises(ValueError, match=r"student 3 and teacher 4.*"
                       r"MLPProjector"):
        dlkd_align_loss(torch.randn(2, 3), t)
    with pytest.raises(ValueError, match='differ in batch size'):
        dlkd_corr_loss(torch.randn(3, 4), t)
    with pytest.raises(ValueError, match='tau=0 must be a positive'):
        dlkd_corr_loss(s, t, tau=0)
    with pytest.raises(ValueError, match='one tensor per side'):
        DLKDLoss(1, 1)((s, s), t)
    with pytest.raises(ValueError, match='both 0'):
        DLKDLoss(align_weight=0, corr_weight=0)
    with pytest.raises(ValueError, match='align_weight=-1'):
        DLKDLoss(align_weight=-1, corr_weight=0)
    with pytest.raises(ValueError, match='supcon_weight=0.1.*not implemented'):
        DLKDLoss(1, 1, supcon_weight=0.1)
    with pytest.raises(TypeError, match='unexpected keyword'):
        DLKDLoss(1, 1)(s, t, target=torch.zeros(2, dtype=torch.long))


def _context(student, teacher):
    return DistillContext(
        name='loss_dlkd',
        student_shapes=tuple(torch.Size(x) for x in student),
        teacher_shapes=tuple(torch.Size(x) for x in teacher))


def test_setup_checks_dims_only_for_alignment():
    ctx = _context([(2, 256)], [(2, 2048)])
    with pytest.raises(ValueError, match=r"loss_dlkd.*student 256 and "
                       r"teacher 2048.*dict\(type='MLPProjector'\)"):
        DLKDLoss(align_weight=10, corr_weight=20).setup(ctx)
    DLKDLoss(align_weight=0, corr_weight=20).setup(ctx)  # dims may differ
    DLKDLoss(align_weight=10, corr_weight=0).setup(
        _context([(2, 64, 1, 1)], [(2, 64)]))
    with pytest.raises(ValueError, match=r"\(2, 64, 8, 8\).*GlobalAvgPool"):
        DLKDLoss(align_weight=0, corr_weight=1).setup(
            _context([(2, 64, 8, 8)], [(2, 64)]))
    with pytest.raises(ValueError, match='one teacher feature'):
        DLKDLoss(align_weight=0, corr_weight=1).setup(
            _context([(2, 64)], [(2, 64), (2, 64)]))


def test_traits_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(
        dict(type='DLKDLoss', align_weight=10, corr_weight=20))
    assert isinstance(loss, DLKDLoss)
    assert loss.requires_equal_channels is False
    assert loss.requires_target is False and loss.accepts_multiple is False
    assert 'corr_weight=20' in repr(loss)
    # 2 - 2 cos = squared distance of the L2-normalised embeddings
    s, t = torch.randn(3, 5), torch.randn(3, 5)
    byol = (F.normalize(s, dim=1) - F.normalize(t, dim=1)).pow(2).sum(1)
    torch.testing.assert_close(dlkd_align_loss(s, t), byol.mean())
