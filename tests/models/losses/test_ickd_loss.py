import math

import pytest
import torch

from mmkd.models.losses.ickd_loss import (ICKDLoss, ickd_loss,
                                          ickd_loss_reference)

FAST_IMPLS = ['auto', 'pixel', 'channel']
ALL_IMPLS = FAST_IMPLS + ['explicit']


def _hand_pair(batch=1):
    # student, one sample, C=2, 2x2 map; channels flattened to 4 pixels:
    #   s0 = [1, 0, 0, 1], s1 = [0, 1, 1, 0]  ->  G_S = [[2, 0], [0, 2]]
    # teacher:
    #   t0 = [1, 1, 0, 0], t1 = [1, 0, 0, 0]  ->  G_T = [[2, 1], [1, 1]]
    s = torch.tensor([[[1., 0.], [0., 1.]], [[0., 1.], [1., 0.]]])
    t = torch.tensor([[[1., 1.], [0., 0.]], [[1., 0.], [0., 0.]]])
    return (s.expand(batch, 2, 2, 2).clone(),
            t.expand(batch, 2, 2, 2).clone())


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_paper_form_by_hand(impl):
    s, t = _hand_pair()
    # G_S - G_T = [[0, -1], [-1, 1]], ||.||_F^2 = 3; / (n m C^2) = 3 / 4
    loss = ickd_loss(s, t, impl=impl)
    assert loss.item() == pytest.approx(0.75)
    # batch mean: two identical samples give the same value
    s2, t2 = _hand_pair(batch=2)
    assert ickd_loss(s2, t2, impl=impl).item() == pytest.approx(0.75)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_paper_form_gradient_by_hand(impl):
    s, t = _hand_pair()
    s.requires_grad_()
    ickd_loss(s, t, impl=impl).backward()
    # dL/dX_S = 4 (G_S - G_T) X_S / (B n m C^2) = (G_S - G_T) X_S
    #   row 0: -1 * s1            = [0, -1, -1, 0]
    #   row 1: -1 * s0 + 1 * s1   = [-1, 1, 1, -1]
    expected = torch.tensor([[[[0., -1.], [-1., 0.]],
                              [[-1., 1.], [1., -1.]]]])
    torch.testing.assert_close(s.grad, expected)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_uneven_grid_by_hand(impl):
    # C=1, 3x5 map, 2x2 grid. torch.tensor_split cuts rows [0:2] [2:3] and
    # columns [0:3] [3:5]. Student x[h, w] = h + 1 for w < 3, else 0;
    # teacher all ones. With C=1 a cell's Gram is the sum of squares:
    #   cell (rows 0-1, cols 0-2): S = 3*1 + 3*4 = 15, T = 6 -> (9)^2  = 81
    #   cell (rows 0-1, cols 3-4): S = 0,           T = 4 -> (-4)^2 = 16
    #   cell (row 2,    cols 0-2): S = 3*9 = 27,    T = 3 -> (24)^2 = 576
    #   cell (row 2,    cols 3-4): S = 0,           T = 2 -> (-2)^2 = 4
    # sum 677, / (B n m C^2) = 677 / 4
    s = torch.zeros(1, 1, 3, 5)
    s[0, 0, :, :3] = torch.tensor([1., 2., 3.])[:, None]
    t = torch.ones(1, 1, 3, 5)
    loss = ickd_loss(s, t, grid_size=(2, 2), impl=impl)
    assert loss.item() == pytest.approx(677 / 4)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_row_normalised_by_hand(impl):
    s, t = _hand_pair(batch=2)
    # rows of G_S normalised: [1, 0], [0, 1]
    # rows of G_T normalised: [2, 1] / sqrt(5), [1, 1] / sqrt(2)
    # squared row errors: 2 - 2 cos: (2 - 4 / sqrt(5)) + (2 - sqrt(2))
    per_sample = 4 - 4 / math.sqrt(5) - math.sqrt(2)
    C, B = 2, 2
    loss = ickd_loss(s, t, normalize='row', impl=impl)
    assert loss.item() == pytest.approx(B * per_sample / (C * B))
    loss = ickd_loss(s, t, normalize='row', row_denominator='batch_squared',
                     impl=impl)
    assert loss.item() == pytest.approx(B * per_sample / (C * B * B))


# (B, C, H, W, grid): even and uneven grids, p < C and p > C, one and
# several cell sizes
CASES = [
    (2, 3, 5, 7, (2, 3)),  # uneven both ways, p > C
    (2, 8, 5, 7, (2, 3)),  # uneven, p < C
    (1, 4, 6, 6, (1, 1)),  # p = 36 > C
    (2, 16, 8, 8, (4, 4)),  # p = 4 < C, even
    (2, 5, 9, 4, (4, 3)),  # uneven, mixed
    (3, 2, 8, 8, (8, 8)),  # p = 1
    (1, 24, 7, 9, (3, 2)),  # uneven, auto mixes both forms (paper)
    (2, 64, 7, 9, (3, 2)),  # uneven, auto mixes both forms (row)
]


@pytest.mark.parametrize('normalize', [None, 'row'])
@pytest.mark.parametrize('case', CASES)
def test_fast_matches_explicit_float64(case, normalize):
    B, C, H, W, grid = case
    gen = torch.Generator().manual_seed(sum(case[:4]) + 7 * sum(grid))
    s = torch.randn(B, C, H, W, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(B, C, H, W, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    ref = ickd_loss_reference(s, t, grid, normalize)
    ref_grads = torch.autograd.grad(ref, (s, t))
    for impl in FAST_IMPLS:
        fast = ickd_loss(s, t, grid, normalize, impl=impl)
        torch.testing.assert_close(fast, ref, rtol=1e-11, atol=0)
        grads = torch.autograd.grad(fast, (s, t))
        for g, g_ref in zip(grads, ref_grads):
            torch.testing.assert_close(g, g_ref, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize('normalize', [None, 'row'])
@pytest.mark.parametrize('chunk_size', [1, 2, 5, 13])
def test_chunking_does_not_change_result(chunk_size, normalize):
    gen = torch.Generator().manual_seed(0)
    # chunk_size also bounds the samples per channels-last slab
    # (chunk_size // cells per sample, at least 1)
    s = torch.randn(3, 6, 7, 5, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(3, 6, 7, 5, dtype=torch.float64, generator=gen)
    ref = ickd_loss_reference(s, t, (3, 2), normalize)
    g_ref, = torch.autograd.grad(ref, s)
    for impl in FAST_IMPLS:
        out = ickd_loss(s, t, (3, 2), normalize, impl=impl,
                        chunk_size=chunk_size)
        g, = torch.autograd.grad(out, s)
        torch.testing.assert_close(out, ref, rtol=1e-11, atol=0)
        torch.testing.assert_close(g, g_ref, rtol=1e-9, atol=1e-13)


@pytest.mark.parametrize('normalize,impl', [(None, 'pixel'),
                                            (None, 'channel'),
                                            ('row', 'pixel'),
                                            ('row', 'channel'),
                                            (None, 'explicit')])
def test_gradcheck(normalize, impl):
    # uneven 2x2 grid on a 4x3 map (cells 2x2 and 2x1), several chunks
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 4, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 3, 4, 3, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, b: ickd_loss(a, b, (2, 2), normalize, impl=impl,
                               chunk_size=3), (s, t))


@pytest.mark.parametrize('normalize,impl', [(None, 'auto'),
                                            (None, 'pixel'),
                                            (None, 'channel'),
                                            ('row', 'pixel')])
@pytest.mark.parametrize('eps', [1e-3, 1e-5])
@pytest.mark.parametrize('grid', [(1, 1), (8, 8)])
def test_fast_form_accurate_near_convergence(grid, eps, normalize, impl):
    # Near convergence the loss is a small difference of large numbers.
    # float32 inputs, teacher = student + tiny noise; the truth is the
    # explicit form evaluated in float64 on the same float32 values. (The
    # row-normalised 'channel' form builds Grams in the input precision,
    # like the authors' code, and is not covered by this guarantee.)
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 32, 16, 16, generator=gen)
    t = s + eps * torch.randn(s.shape, generator=gen)
    truth = ickd_loss_reference(s.double(), t.double(), grid, normalize)
    fast = ickd_loss(s, t, grid, normalize, impl=impl)
    assert fast.dtype == torch.float32
    # paper form: no cancellation at all; row form: float64 leaves
    # ~1e-16 / eps^2 of relative error in 2 - 2 cos
    tol = 1e-6 if normalize is None else 1e-5
    assert abs(fast.double().item() / truth.item() - 1) < tol
    # the same values through the explicit float32 Grams lose digits
    explicit32 = ickd_loss_reference(s, t, grid, normalize)
    if normalize is None and eps == 1e-5:
        assert abs(explicit32.double().item() / truth.item() - 1) > 1e-5


@pytest.mark.parametrize('normalize', [None, 'row'])
def test_backward_twice_with_retain_graph(normalize):
    # the fast forms compute the gradient in the forward pass and hand it
    # over in the first backward pass; a second one recomputes it
    gen = torch.Generator().manual_seed(5)
    s = torch.randn(2, 8, 6, 6, dtype=torch.float64, generator=gen,
                    requires_grad=True)
    t = torch.randn(2, 8, 6, 6, dtype=torch.float64, generator=gen)
    for grid in ((1, 1), (3, 3)):
        loss = ickd_loss(s, t, grid, normalize)
        g1, = torch.autograd.grad(loss, s, retain_graph=True)
        g2, = torch.autograd.grad(loss, s)
        torch.testing.assert_close(g1, g2, rtol=1e-12, atol=0)


def test_input_layouts_and_dtypes():
    gen = torch.Generator().manual_seed(4)
    s = torch.randn(2, 12, 8, 10, generator=gen)
    t = torch.randn(2, 12, 8, 10, generator=gen)
    ref = ickd_loss_reference(s.double(), t.double(), (4, 3))
    # channels_last and non-contiguous inputs
    s_cl = s.contiguous(memory_format=torch.channels_last).requires_grad_()
    out = ickd_loss(s_cl, t.contiguous(memory_format=torch.channels_last),
                    (4, 3))
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=0)
    out.backward()
    assert s_cl.grad.shape == s.shape
    wide_s = torch.randn(2, 12, 8, 20, generator=gen)
    wide_s[..., ::2] = s
    out = ickd_loss(wide_s[..., ::2], t, (4, 3))
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=0)
    # autocast does not lower the precision of the fast forms
    with torch.autocast('cpu', dtype=torch.bfloat16):
        for normalize in (None, 'row'):
            out = ickd_loss(s, t, (4, 3), normalize)
            assert out.dtype == torch.float32
            torch.testing.assert_close(
                out.double(),
                ickd_loss_reference(s.double(), t.double(), (4, 3),
                                    normalize), rtol=1e-5, atol=0)
    # low precision inputs are computed in float32
    out = ickd_loss(s.bfloat16(), t.bfloat16(), (4, 3))
    assert out.dtype == torch.float32
    ref_bf = ickd_loss_reference(s.bfloat16().double(),
                                 t.bfloat16().double(), (4, 3))
    torch.testing.assert_close(out.double(), ref_bf, rtol=1e-5, atol=0)


def test_errors():
    s = torch.randn(2, 4, 8, 8)
    with pytest.raises(ValueError, match='B x C x H x W'):
        ickd_loss(s[0], s[0])
    with pytest.raises(ValueError, match=r'differ in channels; add a '
                       r'connector'):
        ickd_loss(s, torch.randn(2, 6, 8, 8))
    with pytest.raises(ValueError, match='differ in spatial size; resize'):
        ickd_loss(s, torch.randn(2, 4, 8, 6))
    with pytest.raises(ValueError, match='differ in batch size'):
        ickd_loss(s, torch.randn(3, 4, 8, 8))
    with pytest.raises(ValueError, match=r'grid_size \(16, 2\) needs a map '
                       r'of at least 16 x 2 pixels'):
        ickd_loss(s, s, grid_size=(16, 2))
    for bad in (0, (2, 0), (2, 2, 2), (2.0, 2), 'big', True):
        with pytest.raises(ValueError, match='grid_size'):
            ickd_loss(s, s, grid_size=bad)
    with pytest.raises(ValueError, match="normalize='col' is not supported"):
        ickd_loss(s, s, normalize='col')
    with pytest.raises(ValueError, match="row_denominator='B' is not"):
        ickd_loss(s, s, normalize='row', row_denominator='B')
    with pytest.raises(ValueError, match="impl='fast' is not supported"):
        ickd_loss(s, s, impl='fast')
    with pytest.raises(ValueError, match='chunk_size=0 must be a positive'):
        ickd_loss(s, s, chunk_size=0)
    with pytest.raises(ValueError, match='floating point'):
        ickd_loss(s.long(), s.long())
    # the module checks its options when it is built
    with pytest.raises(ValueError, match="impl='fast' is not supported"):
        ICKDLoss(impl='fast')
    with pytest.raises(ValueError, match='grid_size'):
        ICKDLoss(grid_size=(1, -1))


def test_module_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(
        dict(type='ICKDLoss', grid_size=(2, 2), loss_weight=3.0))
    assert isinstance(loss, ICKDLoss)
    assert loss.requires_target is False
    assert loss.grid_size == (2, 2)
    s, t = _hand_pair()
    expected = 3.0 * ickd_loss(s, t, (2, 2))
    torch.testing.assert_close(loss(s, t), expected)
    # one keyword policy (DistillLoss.check_kwargs): ICKD takes no labels
    with pytest.raises(TypeError, match=r'accepts \(student, teacher\)'):
        loss(s, t, target=torch.zeros(1, 4, 4))
    with pytest.raises(TypeError, match='unexpected keyword'):
        loss(s, t, mask=None)
    row = MODELS.build(
        dict(type='ICKDLoss', normalize='row',
             row_denominator='batch_squared', impl='channel', chunk_size=3))
    torch.testing.assert_close(
        row(s, t), ickd_loss(s, t, normalize='row',
                             row_denominator='batch_squared'))
    assert 'grid_size=(2, 2)' in repr(loss)


def test_package_exports():
    import mmkd.models.losses as losses
    for name in ('ickd_loss', 'ickd_loss_reference', 'ICKDLoss'):
        assert name in losses.__all__ and hasattr(losses, name)


@pytest.mark.parametrize('impl', ALL_IMPLS)
def test_mask_invalid_by_hand(impl):
    # _hand_pair with a third, masked column: the masked pixels are left
    # out of the Grams, so the value is the 2x2 pair's 3/4
    s, t = _hand_pair()
    s = torch.cat([s, torch.tensor([5., -2.]).view(1, 2, 1, 1).expand(
        1, 2, 2, 1)], 3)
    t = torch.cat([t, torch.full((1, 2, 2, 1), 3.)], 3)
    mask = torch.tensor([[[True, True, False], [True, True, False]]])
    loss = ICKDLoss(impl=impl, mask_invalid=True)
    assert loss(s, t, valid_mask=mask).item() == pytest.approx(0.75)
    assert ICKDLoss(impl=impl)(s, t).item() != pytest.approx(0.75)


@pytest.mark.parametrize('normalize', [None, 'row'])
def test_degenerate_inputs(normalize):
    zeros = torch.zeros(2, 8, 6, 6, requires_grad=True)
    for t in (torch.zeros(2, 8, 6, 6), torch.ones(2, 8, 6, 6)):
        for impl in ALL_IMPLS:
            zeros.grad = None
            out = ickd_loss(zeros, t, (3, 3), normalize, impl=impl)
            out.backward()
            assert torch.isfinite(out), impl
            assert torch.isfinite(zeros.grad).all(), impl
