import math
import os
import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from mmkd.models.losses.ccs_loss import (CCSLoss, ccs_inter_loss,
                                         ccs_intra_loss,
                                         ccs_intra_loss_reference)

IMPLS = ['auto', 'pixel', 'channel', 'explicit']
R2 = 1 / math.sqrt(2)


def _pair():
    # one sample, C=2, 1x2 map (p=2):
    #   student s0 = [1, 0], s1 = [0, 1]  -> cosines M_S = [[1, 0], [0, 1]]
    #   teacher t0 = [1, 0], t1 = [1, 1]  -> M_T = [[1, 1/r2], [1/r2, 1]]
    s = torch.tensor([[[[1., 0.]], [[0., 1.]]]])
    t = torch.tensor([[[[1., 0.]], [[1., 1.]]]])
    return s, t


# --------------------------------------------------------------------------
# intra-instance term
# --------------------------------------------------------------------------
@pytest.mark.parametrize('impl', IMPLS)
def test_intra_by_hand(impl):
    s, t = _pair()
    # M_S - M_T: off-diagonals -1/sqrt2, ||.||^2 = 1; / (B C^2) = 1/4
    assert ccs_intra_loss(s, t, impl=impl).item() == pytest.approx(0.25)
    # cosines: scaling a channel changes nothing
    s2 = s * torch.tensor([5., 0.1]).view(1, 2, 1, 1)
    assert ccs_intra_loss(s2, 3 * t, impl=impl).item() == pytest.approx(0.25)
    # batch mean: a second sample with equal cosines adds 0, B doubles
    s3, t3 = torch.cat([s, t]), torch.cat([t, t])
    assert ccs_intra_loss(s3, t3, impl=impl).item() == pytest.approx(0.125)


@pytest.mark.parametrize('impl', IMPLS)
def test_intra_zero_channel_by_hand(impl):
    # student channel 1 is zero: no direction, cosines 0 (diagonal too):
    # M_S = [[1, 0], [0, 0]], M_T as above; diff [[0, -1/r2], [-1/r2, -1]]
    # -> 1/2 + 1/2 + 1 = 2, / 4 = 0.5
    s, t = _pair()
    s[:, 1] = 0
    s.requires_grad_()
    out = ccs_intra_loss(s, t, impl=impl)
    assert out.item() == pytest.approx(0.5)
    out.backward()
    assert torch.isfinite(s.grad).all()
    if impl != 'explicit':  # F.normalize's reference gives ~1/eps there
        # no direction, no gradient: the zero channel gets exactly 0
        assert torch.count_nonzero(s.grad[:, 1]) == 0
        assert s.grad[:, 0].abs().sum() == 0  # [1, 0] against [1, 0]
        # the teacher's channel 1 ([1, 1] against a zero channel) does get
        # one
        t.requires_grad_()
        ccs_intra_loss(s.detach(), t, impl=impl).backward()
        assert t.grad[:, 1].abs().sum() > 0


@pytest.mark.parametrize('impl', IMPLS)
def test_intra_uneven_grid_by_hand(impl):
    # C=2, 1x3 map, grid (1, 2): torch.tensor_split cuts columns [0:2] and
    # [2:3] (the first cell is the wider one).
    #   student ch0 = [1, 0 | 2], ch1 = [0, 1 | -3]
    #   teacher ch0 = [1, 1 | 5], ch1 = [1, 1 |  0]
    # cell A: M_S = I, M_T = all ones           -> ||diff||^2 = 2
    # cell B: M_S = [[1, -1], [-1, 1]] (one pixel, signs), M_T = [[1, 0],
    #         [0, 0]] (teacher ch1 zero)         -> 1 + 1 + 1 = 3
    # L = (2 + 3) / (n m B C^2) = 5 / 8
    s = torch.tensor([[[[1., 0., 2.]], [[0., 1., -3.]]]])
    t = torch.tensor([[[[1., 1., 5.]], [[1., 1., 0.]]]])
    assert ccs_intra_loss(s, t, (1, 2), impl=impl).item() == \
        pytest.approx(5 / 8)
    # a [0:1] [1:3] split would give another number
    cells = [(slice(0, 1), ), (slice(1, 3), )]
    other = 0.0
    for (cols, ) in cells:
        fs = F.normalize(s[0, :, 0, cols], dim=1)
        ft = F.normalize(t[0, :, 0, cols], dim=1)
        other += (fs @ fs.T - ft @ ft.T).pow(2).sum().item()
    assert other / 8 != pytest.approx(5 / 8)


# (B, C, H, W, grid): even and uneven grids, p < C and p > C
CASES = [
    (2, 3, 5, 7, (2, 3)),
    (2, 8, 5, 7, (2, 3)),
    (1, 4, 6, 6, (1, 1)),
    (2, 16, 8, 8, (4, 4)),
    (2, 5, 9, 4, (4, 3)),
    (3, 2, 8, 8, (8, 8)),
    (1, 24, 7, 9, (3, 2)),
]


@pytest.mark.parametrize('case', CASES)
def test_intra_fast_matches_reference_float64(case):
    B, C, H, W, grid = case
    gen = torch.Generator().manual_seed(sum(case[:4]))
    s = torch.randn(B, C, H, W, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(B, C, H, W, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    ref = ccs_intra_loss_reference(s, t, grid)
    ref_grads = torch.autograd.grad(ref, (s, t))
    for impl in ('auto', 'pixel', 'channel'):
        for chunk_size in (None, 3):
            out = ccs_intra_loss(s, t, grid, impl=impl,
                                 chunk_size=chunk_size)
            torch.testing.assert_close(out, ref, rtol=1e-10, atol=0)
            grads = torch.autograd.grad(out, (s, t))
            for g, g_ref in zip(grads, ref_grads):
                torch.testing.assert_close(g, g_ref, rtol=1e-8,
                                           atol=1e-12)


@pytest.mark.parametrize('impl', ['pixel', 'channel', 'explicit'])
def test_intra_gradcheck(impl):
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 4, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 3, 4, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: ccs_intra_loss(a, b, (2, 2), impl=impl, chunk_size=3),
        (s, t))


# --------------------------------------------------------------------------
# inter-instance term
# --------------------------------------------------------------------------
def test_inter_by_hand():
    # C=1, 1x2 maps, B=2:
    #   student: sample 0 [1, 0], sample 1 [0, 1] -> N_S = I
    #   teacher: sample 0 [1, 0], sample 1 [1, 1] -> N_T = [[1, 1/r2],
    #   [1/r2, 1]];  ||N_S - N_T||^2 = 1, / (C B^2) = 1/4
    s = torch.tensor([[[[1., 0.]]], [[[0., 1.]]]])
    t = torch.tensor([[[[1., 0.]]], [[[1., 1.]]]])
    assert ccs_inter_loss(s, t).item() == pytest.approx(0.25)
    # a second channel equal in student and teacher adds 0, C doubles
    extra = torch.tensor([[[[2., 1.]]], [[[0., 3.]]]])
    s2, t2 = torch.cat([s, extra], 1), torch.cat([t, extra], 1)
    assert ccs_inter_loss(s2, t2).item() == pytest.approx(0.125)
    # the intra term does not see relations between samples: with C=1
    # every per-sample matrix is [[1]]
    assert ccs_intra_loss(s, t).item() == pytest.approx(0, abs=1e-6)


def test_inter_matches_cosine_definition():
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(4, 3, 5, 6, generator=gen, dtype=torch.float64)
    t = torch.randn(4, 3, 5, 6, generator=gen, dtype=torch.float64)
    s[2, 1] = 0  # zero channel: cosines 0
    B, C = 4, 3
    total = 0.0
    for c in range(C):
        fs, ft = s[:, c].flatten(1), t[:, c].flatten(1)
        ns = F.cosine_similarity(fs[:, None], fs[None], dim=2)
        nt = F.cosine_similarity(ft[:, None], ft[None], dim=2)
        total += (ns - nt).pow(2).sum()
    torch.testing.assert_close(ccs_inter_loss(s, t), total / (C * B * B))


def test_inter_single_sample_is_exactly_zero():
    gen = torch.Generator().manual_seed(4)
    s = torch.randn(1, 3, 4, 4, generator=gen, requires_grad=True)
    t = torch.randn(1, 3, 4, 4, generator=gen)
    t[0, 0] = 0  # N_T = [[0]] against N_S = [[1]]: still no relation
    out = ccs_inter_loss(s, t)
    assert out.item() == 0.0 and out.requires_grad
    out.backward()
    assert torch.count_nonzero(s.grad) == 0
    # the module with B = 1 is the intra term alone
    loss = CCSLoss(inter_weight=1.0)
    torch.testing.assert_close(loss(s, t), ccs_intra_loss(s, t))


def test_inter_gradcheck():
    gen = torch.Generator().manual_seed(5)
    s = torch.randn(3, 2, 3, 2, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(3, 2, 3, 2, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    assert torch.autograd.gradcheck(ccs_inter_loss, (s, t))


# --------------------------------------------------------------------------
# both terms: identities, degenerate inputs, errors, module
# --------------------------------------------------------------------------
@pytest.mark.parametrize('grid', [(1, 1), (3, 2), (8, 8)])
def test_teacher_equal_student_is_exactly_zero(grid):
    gen = torch.Generator().manual_seed(6)
    s = torch.randn(2, 16, 9, 8, generator=gen)
    s[0, 3] = 0
    t = s.clone()
    for impl in IMPLS:
        assert ccs_intra_loss(s, t, grid, impl=impl).item() == 0.0
    assert ccs_inter_loss(s, t).item() == 0.0
    assert CCSLoss(grid)(s, t).item() == 0.0


def test_degenerate_inputs_are_finite():
    zeros = torch.zeros(2, 4, 6, 6, requires_grad=True)
    const = torch.ones(2, 4, 6, 6)
    for t in (zeros.detach(), const):
        for impl in IMPLS:
            zeros.grad = None
            out = ccs_intra_loss(zeros, t, (3, 3), impl=impl)
            out.backward()
            assert torch.isfinite(out) and torch.isfinite(zeros.grad).all()
        zeros.grad = None
        out = CCSLoss((2, 2))(zeros, t)
        out.backward()
        assert torch.isfinite(out) and torch.isfinite(zeros.grad).all()
    # zeros against zeros: nothing to match
    assert CCSLoss((2, 2))(zeros, zeros.detach()).item() == 0
    # zeros against constant: every cosine of the teacher is 1, the
    # student's 0 -> intra 1 (C^2 entries of 1 / C^2), inter 1
    assert CCSLoss((2, 2))(zeros, const).item() == pytest.approx(2.0)


def test_dtypes_and_autocast():
    gen = torch.Generator().manual_seed(8)
    s = torch.randn(2, 12, 8, 10, generator=gen)
    t = torch.randn(2, 12, 8, 10, generator=gen)
    truth = (ccs_intra_loss_reference(s.double(), t.double(), (4, 3)) +
             ccs_inter_loss(s.double(), t.double()))
    loss = CCSLoss((4, 3))
    # autocast does not lower the precision
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = loss(s, t)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), truth, rtol=1e-5, atol=0)
    # half inputs are computed in float32
    out = loss(s.bfloat16(), t.bfloat16())
    assert out.dtype == torch.float32
    truth = (ccs_intra_loss_reference(s.bfloat16().double(),
                                      t.bfloat16().double(), (4, 3)) +
             ccs_inter_loss(s.bfloat16().double(), t.bfloat16().double()))
    torch.testing.assert_close(out.double(), truth, rtol=1e-5, atol=0)
    # channels_last and strided inputs
    s_cl = s.contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(loss(s_cl, t), loss(s, t))
    wide = torch.zeros(2, 12, 8, 20)
    wide[..., ::2] = s
    torch.testing.assert_close(loss(wide[..., ::2], t), loss(s, t))


def test_errors():
    s = torch.randn(2, 4, 8, 8)
    with pytest.raises(ValueError, match='B x C x H x W'):
        ccs_intra_loss(s[0], s[0])
    with pytest.raises(ValueError, match='B x C x H x W'):
        ccs_inter_loss(s[0], s[0])
    with pytest.raises(ValueError, match='differ in channels; add a '
                       'connector'):
        ccs_inter_loss(s, torch.randn(2, 6, 8, 8))
    with pytest.raises(ValueError, match='differ in spatial size'):
        ccs_intra_loss(s, torch.randn(2, 4, 8, 6))
    with pytest.raises(ValueError, match='differ in batch size'):
        CCSLoss()(s, torch.randn(3, 4, 8, 8))
    with pytest.raises(ValueError, match=r'grid_size \(16, 2\) needs a map '
                       r'of at least 16 x 2 pixels'):
        CCSLoss((16, 2))(s, s)
    for bad in (0, (2, 0), (2, 2, 2), 'big', True):
        with pytest.raises(ValueError, match='grid_size'):
            CCSLoss(grid_size=bad)
    with pytest.raises(ValueError, match="impl='fast' is not supported"):
        CCSLoss(impl='fast')
    with pytest.raises(ValueError, match='intra_weight=-1 must be'):
        CCSLoss(intra_weight=-1)
    with pytest.raises(ValueError, match='inter_weight=True must be'):
        CCSLoss(inter_weight=True)
    with pytest.raises(ValueError, match='both 0'):
        CCSLoss(intra_weight=0, inter_weight=0)


def test_module_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(
        dict(type='CCSLoss', grid_size=(2, 2), intra_weight=2.0,
             inter_weight=0.5, loss_weight=3.0))
    assert isinstance(loss, CCSLoss)
    assert (loss.requires_target, loss.supports_valid_mask,
            loss.requires_equal_channels, loss.min_batch) == (False, True,
                                                              True, 1)
    gen = torch.Generator().manual_seed(7)
    s = torch.randn(3, 6, 8, 8, generator=gen, requires_grad=True)
    t = torch.randn(3, 6, 8, 8, generator=gen)
    intra, inter = ccs_intra_loss(s, t, (2, 2)), ccs_inter_loss(s, t)
    assert intra.item() > 0 and inter.item() > 0
    torch.testing.assert_close(loss(s, t), 3.0 * (2.0 * intra + 0.5 * inter))
    # a weight of 0 turns a term off
    torch.testing.assert_close(CCSLoss((2, 2), inter_weight=0)(s, t), intra)
    torch.testing.assert_close(CCSLoss((2, 2), intra_weight=0)(s, t), inter)
    torch.testing.assert_close(
        CCSLoss()(s, t), ccs_intra_loss(s, t) + ccs_inter_loss(s, t))
    torch.testing.assert_close(
        CCSLoss((2, 2), impl='explicit')(s, t), intra + inter)
    with pytest.raises(TypeError, match=r'accepts \(student, teacher\)'):
        loss(s, t, target=None)
    assert 'grid_size=(2, 2)' in repr(loss) and 'loss_weight=3.0' in repr(
        loss)
    # gradients through the module
    s64 = s.detach()[:2, :3, :4, :4].double().requires_grad_()
    t64 = t.detach()[:2, :3, :4, :4].double().requires_grad_()
    assert torch.autograd.gradcheck(CCSLoss((2, 2), impl='pixel'),
                                    (s64, t64))


def test_mask_invalid_by_hand():
    # the masked column is left out of the cosines: the 1x3 pair below
    # with its last column masked is the 1x2 pair of _pair()
    s, t = _pair()
    s = torch.cat([s, torch.tensor([[[[7.]], [[-2.]]]])], 3)
    t = torch.cat([t, torch.tensor([[[[-1.]], [[4.]]]])], 3)
    mask = torch.tensor([[[True, True, False]]])
    loss = CCSLoss(inter_weight=0, mask_invalid=True)
    assert loss(s, t, valid_mask=mask).item() == pytest.approx(0.25)
    assert CCSLoss(inter_weight=0)(s, t).item() != pytest.approx(0.25)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('ccs_intra_loss', 'ccs_inter_loss', 'CCSLoss'):
        assert name in losses.__all__ and hasattr(losses, name)


# --------------------------------------------------------------------------
# global batch under DistributedDataParallel (2 CPU processes, gloo)
# --------------------------------------------------------------------------
WORLD = 2


def _data():
    torch.manual_seed(0)
    net = nn.Conv2d(3, 4, 1).double()
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, 4, 4, generator=gen, dtype=torch.float64)
    t = torch.randn(4, 4, 4, 4, generator=gen, dtype=torch.float64)
    return net, x, t


DIST_CASES = {
    'inter': dict(intra_weight=0.0),
    'both': dict(grid_size=(2, 2), intra_weight=1.0, inter_weight=2.0),
}


def _run(model, net, x, t, case):
    net.zero_grad()
    loss = CCSLoss(**DIST_CASES[case])(model(x), t)
    loss.backward()
    return dict(loss=loss.item(),
                grads={n: p.grad.clone() for n, p in net.named_parameters()})


def _worker(rank, port, outdir):
    os.environ['GLOO_SOCKET_IFNAME'] = 'lo'
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
        world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        net, x, t = _data()
        model = nn.parallel.DistributedDataParallel(net)
        sl = slice(2 * rank, 2 * rank + 2)
        out = {case: _run(model, net, x[sl], t[sl], case)
               for case in DIST_CASES}
        torch.save(out, os.path.join(outdir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    outdir = str(tmp_path_factory.mktemp('ccs_dist'))
    torch.multiprocessing.spawn(
        _worker, args=(_free_port(), outdir), nprocs=WORLD, join=True)
    return [
        torch.load(os.path.join(outdir, f'rank{r}.pt'), weights_only=False)
        for r in range(WORLD)
    ]


@pytest.mark.parametrize('case', list(DIST_CASES))
def test_ddp_matches_single_process_global_batch(ranks, case):
    net, x, t = _data()
    single = _run(net, net, x, t, case)
    values = [out[case]['loss'] for out in ranks]
    if case == 'inter':
        # every rank logs the global-batch value
        for v in values:
            assert v == pytest.approx(single['loss'], rel=1e-10)
    else:
        # the intra term is a per-rank mean: ranks of equal batch size
        # average to the global value
        assert sum(values) / WORLD == pytest.approx(single['loss'],
                                                    rel=1e-10)
    # after DDP's gradient average: the single-process gradient
    for out in ranks:
        for name, grad in single['grads'].items():
            torch.testing.assert_close(out[case]['grads'][name], grad)
