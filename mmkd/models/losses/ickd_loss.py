"""ICKD: inter-channel correlation distillation (Liu et al., ICCV 2021).

Reference: Li Liu, Qingle Huang, Sihao Lin, Hongwei Xie, Bing Wang, Xiaojun
Chang, Xiaodan Liang. "Exploring Inter-Channel Correlation for
Diversity-preserved Knowledge Distillation", ICCV 2021.

Implementations of the same loss that live here:

* ``impl='explicit'`` (:func:`ickd_loss_reference`): the definition written
  out literally, one ``C x C`` Gram per cell, cells cut with
  :func:`torch.tensor_split`, plain autograd. Slow and memory hungry but
  obviously right; the tests and ``tools/benchmark_ickd.py`` use it as
  ground truth.
* ``impl='pixel'``: never builds a ``C x C`` matrix; every cell costs
  ``O(p^2 C)`` through ``p x p`` products (``p`` pixels per cell), all cells
  of one size in one batched product. The right choice for fine grids.
* ``impl='channel'``: ``C x C`` products per cell, ``O(C^2 p)``; the right
  choice for coarse grids (``p`` comparable to or larger than ``C``).
* ``impl='auto'`` (default): picks ``'pixel'`` or ``'channel'`` per cell
  size.

The fast forms run through custom autograd functions that work on chunks of
cells, so their extra memory is bounded whatever the grid.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from mmkd.registry import MODELS
from .utils import check_pair

__all__ = ['ickd_loss', 'ickd_loss_reference', 'ICKDLoss']

GridSize = Union[int, Sequence[int]]

NORMALIZE_OPTIONS = (None, 'row')
ROW_DENOMINATORS = ('batch', 'batch_squared')
IMPLS = ('auto', 'pixel', 'channel', 'explicit')

# Bytes of temporaries one chunk may use when ``chunk_size`` is None.
AUTO_CHUNK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------
# argument checking
# --------------------------------------------------------------------------
def _parse_grid(grid_size: GridSize) -> Tuple[int, int]:
    """Turn ``grid_size`` into ``(n, m)`` (cells along H, cells along W)."""
    if isinstance(grid_size, bool):
        raise ValueError(
            f'grid_size must be an int or a pair of ints (n, m), got '
            f'{grid_size!r}')
    if isinstance(grid_size, int):
        grid = (grid_size, grid_size)
    else:
        try:
            grid = tuple(grid_size)
        except TypeError:
            raise ValueError(
                f'grid_size must be an int or a pair of ints (n, m), got '
                f'{grid_size!r}') from None
    if len(grid) != 2 or not all(
            isinstance(g, int) and not isinstance(g, bool) for g in grid):
        raise ValueError(
            f'grid_size must be an int or a pair of ints (n, m) with n cells '
            f'along H and m along W, got {grid_size!r}')
    if min(grid) < 1:
        raise ValueError(
            f'grid_size {grid_size!r} must be positive: use (1, 1) for one '
            f'ICC matrix per image')
    return grid


def _check_options(normalize, row_denominator, impl, chunk_size) -> None:
    if normalize not in NORMALIZE_OPTIONS:
        raise ValueError(
            f'normalize={normalize!r} is not supported: use None (the '
            f"paper's loss) or 'row' (the authors' released code)")
    if row_denominator not in ROW_DENOMINATORS:
        raise ValueError(
            f'row_denominator={row_denominator!r} is not supported: use '
            f"'batch' (C*B, released CIFAR code) or 'batch_squared' "
            f'(C*B^2, their ImageNet copy)')
    if impl not in IMPLS:
        raise ValueError(
            f'impl={impl!r} is not supported: use one of {IMPLS}')
    if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
            or chunk_size < 1):
        raise ValueError(
            f'chunk_size={chunk_size!r} must be a positive int (cells per '
            f'chunk) or None to size chunks automatically')


def _check_tensors(student: Tensor, teacher: Tensor,
                   grid: Tuple[int, int]) -> None:
    check_pair(student, teacher, what='a B x C x H x W feature map')
    s = tuple(student.shape)
    n, m = grid
    H, W = s[2], s[3]
    if n > H or m > W:
        raise ValueError(
            f'grid_size ({n}, {m}) needs a map of at least {n} x {m} pixels '
            f'but the features are {H} x {W}; use a grid of at most '
            f'({min(n, H)}, {min(m, W)}) or distill a larger feature map')


def _working_dtype(x: Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _no_autocast(device: torch.device):
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


# --------------------------------------------------------------------------
# cells: bands, chunks, gather and scatter
# --------------------------------------------------------------------------
class _Band(NamedTuple):
    start: int  # first pixel of the band
    count: int  # number of cells in the band
    size: int  # pixels per cell along this axis


def _bands(length: int, parts: int) -> List[_Band]:
    """Cells of ``torch.tensor_split(length, parts)`` grouped by size.

    ``tensor_split`` gives the first ``length % parts`` pieces one pixel more
    than the others, so there are at most two sizes per axis.
    """
    q, r = divmod(length, parts)
    bands = []
    if r:
        bands.append(_Band(0, r, q + 1))
    if parts - r:
        bands.append(_Band(r * (q + 1), parts - r, q))
    return bands


class _Chunk(NamedTuple):
    batch: slice
    rows: slice  # pixel rows
    cols: slice  # pixel columns
    kb: int  # samples
    ki: int  # cells along H
    hh: int  # cell height
    kj: int  # cells along W
    ww: int  # cell width
    form: str  # 'pixel' (p x p products) or 'channel' (C x C products)

    @property
    def cells(self) -> int:
        return self.kb * self.ki * self.kj


def _chunks(shape: torch.Size, grid: Tuple[int, int],
            form_for: Callable[[int], str],
            cells_for: Callable[[int, str], int]) -> Iterator[_Chunk]:
    """Split the cells into rectangular blocks of equally sized cells.

    Cells of one size (at most 4 sizes, from :func:`_bands`) are cut into
    blocks of ``kb`` samples x ``ki`` x ``kj`` cells holding at most
    ``cells_for(p, form)`` cells each.
    """
    B, _, H, W = shape
    n, m = grid
    for rb in _bands(H, n):
        for cb in _bands(W, m):
            p = rb.size * cb.size
            form = form_for(p)
            limit = max(1, cells_for(p, form))
            kj = min(cb.count, limit)
            kb = min(B, max(1, limit // kj))
            ki = min(rb.count, max(1, limit // (kj * kb)))
            for i0 in range(0, rb.count, ki):
                i1 = min(i0 + ki, rb.count)
                rows = slice(rb.start + i0 * rb.size,
                             rb.start + i1 * rb.size)
                for b0 in range(0, B, kb):
                    b1 = min(b0 + kb, B)
                    for j0 in range(0, cb.count, kj):
                        j1 = min(j0 + kj, cb.count)
                        cols = slice(cb.start + j0 * cb.size,
                                     cb.start + j1 * cb.size)
                        yield _Chunk(
                            slice(b0, b1), rows, cols, b1 - b0, i1 - i0,
                            rb.size, j1 - j0, cb.size, form)


def _to_hwc(x: Tensor, dtype: torch.dtype) -> Tensor:
    """``x`` (k x C x H x W) as a contiguous k x H x W x C tensor.

    Moving C innermost is the one expensive (transposing) copy of the pixel
    forms. Done one sample at a time as a 2-D transpose it takes PyTorch's
    cache-blocked CPU path, about 2.5x faster than a strided 4-D copy.
    """
    k, C, H, W = x.shape
    hwc = x.permute(0, 2, 3, 1)
    if hwc.dtype == dtype and hwc.is_contiguous():
        return hwc  # channels-last input
    out = torch.empty(hwc.shape, dtype=dtype, device=x.device)
    if x.dtype == dtype and x.is_contiguous():
        for i in range(k):
            out[i].view(H * W, C).copy_(x[i].view(C, H * W).t())
    else:
        out.copy_(hwc)
    return out


def _from_hwc(out: Tensor, hwc: Tensor) -> None:
    """Write ``hwc`` (k x H x W x C) into ``out`` (k x C x H x W)."""
    k, C, H, W = out.shape
    if out.dtype == hwc.dtype and out.is_contiguous():
        for i in range(k):
            out[i].view(C, H * W).copy_(hwc[i].view(H * W, C).t())
    else:
        out.copy_(hwc.permute(0, 3, 1, 2))


def _cells(hwc: Tensor, c: _Chunk) -> Tensor:
    """Cells of chunk ``c`` of a k x H x W x C slab, as a view shaped
    kb x ki x kj x hh x ww x C."""
    return hwc[c.batch, c.rows, c.cols].view(
        c.kb, c.ki, c.hh, c.kj, c.ww, hwc.shape[-1]).permute(0, 1, 3, 2, 4, 5)


def _gather_cp(x: Tensor, c: _Chunk, dtype: torch.dtype) -> Tensor:
    """Cells of chunk ``c`` of ``x`` (B x C x H x W) as N x C x p."""
    C = x.shape[1]
    v = x[c.batch, :, c.rows, c.cols].view(c.kb, C, c.ki, c.hh, c.kj, c.ww)
    return v.permute(0, 2, 4, 1, 3, 5).reshape(
        c.cells, C, c.hh * c.ww).to(dtype)


def _scatter_cp(out: Tensor, c: _Chunk, g: Tensor) -> None:
    """Write per-cell gradients ``g`` (N x C x p) into ``out`` (B x C x H x
    W)."""
    C = out.shape[1]
    dst = out[c.batch, :, c.rows, c.cols].view(
        c.kb, C, c.ki, c.hh, c.kj, c.ww)
    dst.copy_(g.view(c.kb, c.ki, c.kj, C, c.hh, c.ww).permute(
        0, 3, 1, 4, 2, 5))


PixelStep = Callable[[Tensor, Tensor, _Chunk], Tuple[Tensor, Optional[
    Tensor], Optional[Tensor]]]
ChannelStep = Callable[[Tensor, Tensor, _Chunk], Tuple[Tensor, Optional[
    Tensor], Optional[Tensor]]]


def _run_cells(student: Tensor, teacher: Tensor, grid: Tuple[int, int],
               form_for: Callable[[int], str],
               cells_for: Callable[[int, str], int],
               chunk_size: Optional[int], need: Tuple[bool, bool],
               dtype: torch.dtype, pixel_step: PixelStep,
               channel_step: ChannelStep):
    """Run a chunked pass over all cells; return the summed value and the
    input gradients (``None`` where not ``need``-ed).

    Pixel-form cells are taken from channels-last slabs of a few samples
    (``pixel_step(cs, ct, chunk)`` gets kb x ki x kj x hh x ww x C views and
    returns per-cell gradients as N x p x C); channel-form cells are taken
    from the inputs directly (``channel_step(xs, xt, chunk)`` gets N x C x p
    cells and returns gradients in that layout). Steps also return the
    chunk's float64 value.
    """
    B, C, H, W = student.shape
    grad_s = torch.empty_like(student) if need[0] else None
    grad_t = torch.empty_like(teacher) if need[1] else None
    total = torch.zeros((), dtype=torch.float64, device=student.device)
    chunks = list(_chunks(student.shape, grid, form_for, cells_for))
    if any(c.form == 'pixel' for c in chunks):
        # samples per slab: as many as fit the chunk budget
        if chunk_size is None:
            itemsize = torch.finfo(dtype).bits // 8
            k = AUTO_CHUNK_BYTES // (C * H * W * itemsize *
                                     (2 + need[0] + need[1]))
        else:
            k = chunk_size // (grid[0] * grid[1])
        k = max(1, min(B, k))
        for b0 in range(0, B, k):
            sb = slice(b0, min(b0 + k, B))
            hs = _to_hwc(student[sb], dtype)
            ht = _to_hwc(teacher[sb], dtype)
            gs = torch.empty_like(hs) if need[0] else None
            gt = torch.empty_like(ht) if need[1] else None
            for c in _chunks(hs.shape[:1] + student.shape[1:], grid,
                             form_for, cells_for):
                if c.form != 'pixel':
                    continue
                value, g_s, g_t = pixel_step(_cells(hs, c), _cells(ht, c), c)
                total += value
                shape = (c.kb, c.ki, c.kj, c.hh, c.ww, C)
                if g_s is not None:
                    _cells(gs, c).copy_(g_s.view(shape))
                if g_t is not None:
                    _cells(gt, c).copy_(g_t.view(shape))
                del value, g_s, g_t
            # channel-form cells of the slab (uneven grids only) hold
            # garbage here and are overwritten below
            if need[0]:
                _from_hwc(grad_s[sb], gs)
            if need[1]:
                _from_hwc(grad_t[sb], gt)
            del hs, ht, gs, gt
    for c in chunks:
        if c.form != 'channel':
            continue
        value, g_s, g_t = channel_step(
            _gather_cp(student, c, dtype), _gather_cp(teacher, c, dtype), c)
        total += value
        if g_s is not None:
            _scatter_cp(grad_s, c, g_s)
        if g_t is not None:
            _scatter_cp(grad_t, c, g_t)
        del value, g_s, g_t
    return total, (grad_s, grad_t)


def _cells_for(chunk_size: Optional[int], C: int, itemsize: int,
               normalize: Optional[str]) -> Callable[[int, str], int]:
    """Cells per chunk: ``chunk_size`` or a fit to ``AUTO_CHUNK_BYTES``."""
    if chunk_size is not None:
        return lambda p, form: chunk_size

    def fit(p: int, form: str) -> int:
        size = itemsize
        if normalize == 'row' and form == 'pixel':
            size = 8  # computed in float64
            # float64 cells, their products and gradients
            elems = 8 * C * p
        elif normalize == 'row':
            # two gathered cells, two Grams, their normalised copies, the
            # difference and autograd's buffers
            elems = 4 * C * p + 8 * C * C
        elif form == 'pixel':
            elems = 4 * C * p  # S - T, S + T, two gradients
        else:
            # gathered cells, S - T, S + T, a gradient, M, sym(M), its square
            elems = 5 * C * p + 3 * C * C
        return max(1, AUTO_CHUNK_BYTES // (elems * size))

    return fit


def _form_for(impl: str, C: int,
              normalize: Optional[str]) -> Callable[[int], str]:
    if impl == 'pixel':
        return lambda p: 'pixel'
    if impl == 'channel':
        return lambda p: 'channel'
    # Work per cell, forward + backward: the pixel form costs about
    # 5 p^2 C multiply-adds (3 products, 2 for the gradient) plus moving
    # the cells into a channels-last layout, the channel form 2 C^2 p
    # (3 C^2 p when its C x C difference is recomputed, which happens when
    # p < C because it would outgrow the feature map). Measured on CPU the
    # two meet near p = C / 2; the pixel form is chosen up to p = C / 3.
    if normalize == 'row':
        # float64 p x p products (about 18 p^2 C per cell with the
        # gradient) against float32 Grams (about 6 C^2 p plus the C x C
        # normalisation): measured crossover near p = C / 8.
        return lambda p: 'pixel' if 8 * p <= C else 'channel'
    return lambda p: 'pixel' if 3 * p <= C else 'channel'


# --------------------------------------------------------------------------
# paper form: ||G_S - G_T||_F^2 without cancellation
# --------------------------------------------------------------------------
# With D = X_s - X_t and P = X_s + X_t (both C x p),
#     X_s X_s^T - X_t X_t^T = (D P^T + P D^T) / 2 = sym(D P^T),
# so the Gram difference comes from the (small, exactly formed) difference
# of the features instead of from two large Grams that nearly cancel.
# Channel form:  ||sym(D P^T)||^2 with one C x C product per cell.
# Pixel form:    ||sym(M)||^2 = (||M||^2 + tr(M M)) / 2 with M = D P^T, and
#     ||M||^2 = <D^T D, P^T P>,   tr(M M) = tr((P^T D)^2),
# three p x p products per cell, O(p^2 C) instead of O(C^2 p).
# Gradients: d/dX_s = 4 (G_s - G_t) X_s, d/dX_t = -4 (G_s - G_t) X_t.

def _pixel_value(uu: Tensor, vv: Tensor, pm: Tensor) -> Tensor:
    """Per-cell ``||G_s - G_t||^2`` from the p x p products, in float64."""
    uu, vv, pm = uu.double(), vv.double(), pm.double()
    return 0.5 * ((uu * vv).sum((1, 2)) +
                  (pm * pm.transpose(1, 2)).sum((1, 2)))


def _channel_diff(xs: Tensor, xt: Tensor) -> Tensor:
    """``G_s - G_t`` per cell (N x C x C) from cells stored as N x C x p."""
    m = torch.bmm(xs - xt, (xs + xt).transpose(1, 2))
    return (m + m.transpose(1, 2)).mul_(0.5)


def _paper_pass(student: Tensor, teacher: Tensor, grid: Tuple[int, int],
                impl: str, chunk_size: Optional[int],
                need: Tuple[bool, bool]):
    """Paper-form loss and, where ``need`` says so, its input gradients."""
    B, C = student.shape[:2]
    dtype = _working_dtype(student)
    itemsize = torch.finfo(dtype).bits // 8
    scale = 1.0 / (B * grid[0] * grid[1] * C * C)

    def pixel_step(cs, ct, c):
        # w = [D^T; P^T] of every cell, N x 2p x C, so that one batched
        # product gives all three p x p products and one more gives both
        # gradients (tiny batched GEMMs cost per call, not per flop).
        p = c.hh * c.ww
        uv = torch.empty(cs.shape[:3] + (2, ) + cs.shape[3:], dtype=dtype,
                         device=cs.device)
        torch.sub(cs, ct, out=uv[:, :, :, 0])
        torch.add(cs, ct, out=uv[:, :, :, 1])
        w = uv.view(c.cells, 2 * p, C)
        g = torch.bmm(w, w.transpose(1, 2))  # [[D^T D, D^T P], [P^T D, P^T P]]
        uu, pm_t = g[:, :p, :p], g[:, :p, p:]
        pm, vv = g[:, p:, :p], g[:, p:, p:]
        value = _pixel_value(uu, vv, pm).sum()
        # gradients, stored transposed (p x C):
        #   4 (G_s - G_t) X_s -> (P^T P + D^T P) D^T + (P^T D + D^T D) P^T
        #  -4 (G_s - G_t) X_t -> (D^T P - P^T P) D^T + (D^T D - P^T D) P^T
        rows = []
        if need[0]:
            rows.append(torch.cat((vv + pm_t, pm + uu), 2))
        if need[1]:
            rows.append(torch.cat((pm_t - vv, uu - pm), 2))
        g_s = g_t = None
        if rows:
            grads = torch.bmm(torch.cat(rows, 1).mul_(scale), w)
            if need[0]:
                g_s = grads[:, :p]
            if need[1]:
                g_t = grads[:, -p:]
        return value, g_s, g_t

    def channel_step(xs, xt, c):
        dg = _channel_diff(xs, xt)
        value = (dg * dg).sum(dtype=torch.float64)
        g_s = g_t = None
        if need[0] or need[1]:
            dg.mul_(4 * scale)
        if need[0]:
            g_s = torch.bmm(dg, xs)  # 4 (G_s - G_t) X_s
        if need[1]:
            g_t = torch.bmm(dg, xt).neg_()
        return value, g_s, g_t

    with torch.no_grad(), _no_autocast(student.device):
        total, grads = _run_cells(
            student, teacher, grid, _form_for(impl, C, None),
            _cells_for(chunk_size, C, itemsize, None), chunk_size, need,
            dtype, pixel_step, channel_step)
    return total * scale, grads


class _ICKDFunction(torch.autograd.Function):
    """Chunked ICKD loss whose gradient is computed in the forward pass.

    The loss is a scalar of two tensors, so its input gradients can be
    formed chunk by chunk while the chunk is at hand (as fused
    cross-entropy kernels do) and only scaled by the incoming gradient in
    the backward pass: no intermediate outlives its chunk, nothing is
    recomputed, and the extra memory is the gradient itself plus one
    chunk. A second backward pass (``retain_graph=True``) recomputes.
    """

    @staticmethod
    def forward(ctx, student, teacher, normalize, *args):
        run = _paper_pass if normalize is None else _row_pass
        need = tuple(ctx.needs_input_grad[:2])
        value, grads = run(student, teacher, *args, need=need)
        ctx.save_for_backward(student, teacher)
        ctx.run, ctx.args, ctx.grads = run, args, grads
        out_dtype = torch.promote_types(student.dtype, torch.float32)
        return value.to(out_dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        # unpacking also checks that no input was modified in place since
        student, teacher = ctx.saved_tensors
        grads, ctx.grads = ctx.grads, None
        if grads is None:  # second backward pass over a retained graph
            _, grads = ctx.run(student, teacher, *ctx.args,
                               need=tuple(ctx.needs_input_grad[:2]))
        grads = tuple(None if g is None else g.mul_(grad_out.to(g.dtype))
                      for g in grads)
        return grads + (None, ) * (len(ctx.args) + 1)


# --------------------------------------------------------------------------
# row-normalised code form
# --------------------------------------------------------------------------
# Row-normalised form. Row c of a cell's Gram is g_c = X x_c (x_c: the p
# values of channel c, X: C x p), and with A = X^T X (p x p)
#     ||g_c||^2 = x_c^T A x_c,   <g_c^S, g_c^T> = x_c^S^T (X_S^T X_T) x_c^T,
# so the cell's error sum_c ||g_c^S / |g_c^S| - g_c^T / |g_c^T| ||^2
# = sum_c (a_c + b_c - 2 cos_c) (a, b = 1 for non-zero rows) needs only p x p
# products: the pixel form, O(p^2 C) per cell. 2 - 2 cos cancels near
# convergence, so that form runs in float64. The channel form builds the
# Grams as the authors' code does, O(C^2 p) per cell, in the input precision.
_NORMALIZE_EPS = 1e-12  # F.normalize's default, as in the authors' code


def _row_value_channel(xs: Tensor, xt: Tensor) -> Tensor:
    """Row-normalised error of cells stored as N x C x p, explicit Grams."""
    gs = torch.bmm(xs, xs.transpose(1, 2))
    gt = torch.bmm(xt, xt.transpose(1, 2))
    diff = F.normalize(gs, dim=2, eps=_NORMALIZE_EPS) - F.normalize(
        gt, dim=2, eps=_NORMALIZE_EPS)
    return (diff * diff).sum()


def _row_value_pixel(ys: Tensor, yt: Tensor) -> Tensor:
    """Row-normalised error of cells stored as N x p x C, p x p products."""
    eps2 = _NORMALIZE_EPS**2
    # squared row norms of the two Grams and their row-wise dot products
    ns = (torch.bmm(torch.bmm(ys, ys.transpose(1, 2)), ys) * ys).sum(1)
    nt = (torch.bmm(torch.bmm(yt, yt.transpose(1, 2)), yt) * yt).sum(1)
    q = (torch.bmm(torch.bmm(ys, yt.transpose(1, 2)), yt) * ys).sum(1)
    # F.normalize divides by max(|g|, eps) = sqrt(max(|g|^2, eps^2))
    ms, mt = ns.clamp_min(eps2), nt.clamp_min(eps2)
    return (ns / ms + nt / mt - 2 * q / (ms * mt).sqrt()).sum()


def _row_chunk_value(xs: Tensor, xt: Tensor, form: str) -> Tensor:
    if form == 'pixel':
        return _row_value_pixel(xs, xt)
    return _row_value_channel(xs, xt)


def _row_pass(student: Tensor, teacher: Tensor, grid: Tuple[int, int],
              row_denominator: str, impl: str, chunk_size: Optional[int],
              need: Tuple[bool, bool]):
    """Row-normalised loss and, where ``need`` says so, input gradients.

    Each chunk is differentiated by autograd while it is at hand, so its
    Grams (channel form) never outlive it.
    """
    B, C = student.shape[:2]
    dtype = _working_dtype(student)
    itemsize = torch.finfo(dtype).bits // 8
    denom = C * B * (B if row_denominator == 'batch_squared' else 1)
    scale = 1.0 / (grid[0] * grid[1] * denom)

    def step(xs, xt, form):
        with torch.enable_grad():
            xs = xs.detach().requires_grad_(need[0])
            xt = xt.detach().requires_grad_(need[1])
            value = _row_chunk_value(xs, xt, form)
            wrt = [x for x, n in zip((xs, xt), need) if n]
            grads = list(torch.autograd.grad(value, wrt)) if wrt else []
        g_s = grads.pop(0).mul_(scale) if need[0] else None
        g_t = grads.pop(0).mul_(scale) if need[1] else None
        return value.detach().double(), g_s, g_t

    def pixel_step(cs, ct, c):
        # float64 cells, N x p x C
        shape = (c.cells, c.hh * c.ww, C)
        xs = torch.empty(cs.shape, dtype=torch.float64, device=cs.device)
        xt = torch.empty(ct.shape, dtype=torch.float64, device=ct.device)
        return step(xs.copy_(cs).view(shape), xt.copy_(ct).view(shape),
                    'pixel')

    def channel_step(xs, xt, c):
        return step(xs, xt, 'channel')

    with torch.no_grad(), _no_autocast(student.device):
        total, grads = _run_cells(
            student, teacher, grid, _form_for(impl, C, 'row'),
            _cells_for(chunk_size, C, itemsize, 'row'), chunk_size, need,
            dtype, pixel_step, channel_step)
    return total * scale, grads


# --------------------------------------------------------------------------
# public API
# --------------------------------------------------------------------------
def ickd_loss_reference(student: Tensor,
                        teacher: Tensor,
                        grid_size: GridSize = (1, 1),
                        normalize: Optional[str] = None,
                        row_denominator: str = 'batch') -> Tensor:
    """ICKD loss computed literally, one explicit Gram per cell.

    Same arguments and value as :func:`ickd_loss`; cells are cut with
    :func:`torch.tensor_split` and every ``C x C`` ICC matrix is built and
    differentiated by plain autograd. It costs ``O(C^2 p)`` per cell and
    keeps every Gram alive for the backward pass, so use it only as the
    ground truth of tests and benchmarks.
    """
    grid = _parse_grid(grid_size)
    _check_options(normalize, row_denominator, 'explicit', None)
    _check_tensors(student, teacher, grid)
    B, C = student.shape[:2]
    n, m = grid
    dtype = torch.promote_types(student.dtype, torch.float32)
    total = student.new_zeros((), dtype=dtype)
    for s_row, t_row in zip(
            torch.tensor_split(student, n, dim=2),
            torch.tensor_split(teacher, n, dim=2)):
        for s_cell, t_cell in zip(
                torch.tensor_split(s_row, m, dim=3),
                torch.tensor_split(t_row, m, dim=3)):
            fs = s_cell.flatten(2).to(dtype)  # B x C x p
            ft = t_cell.flatten(2).to(dtype)
            gs = torch.bmm(fs, fs.transpose(1, 2))  # B x C x C
            gt = torch.bmm(ft, ft.transpose(1, 2))
            if normalize == 'row':
                gs = F.normalize(gs, dim=2)
                gt = F.normalize(gt, dim=2)
            total = total + (gs - gt).pow(2).sum()
    if normalize == 'row':
        denom = C * B * (B if row_denominator == 'batch_squared' else 1)
        return total / (n * m * denom)
    return total / (B * n * m * C * C)


def ickd_loss(student: Tensor,
              teacher: Tensor,
              grid_size: GridSize = (1, 1),
              normalize: Optional[str] = None,
              row_denominator: str = 'batch',
              impl: str = 'auto',
              chunk_size: Optional[int] = None) -> Tensor:
    r"""Grid-level inter-channel correlation (ICC) distillation loss.

    ICKD (Liu et al., "Exploring Inter-Channel Correlation for
    Diversity-preserved Knowledge Distillation", ICCV 2021) matches how the
    channels of the student co-vary with how those of the teacher do. For
    one sample and one spatial cell with features :math:`X` flattened to
    ``C x p`` (``p`` pixels), the ICC matrix is the Gram
    :math:`G = X X^\top` (``C x C``). The map is cut into an ``n x m``
    grid (``n`` cells along H, ``m`` along W); when H or W does not divide,
    cells follow :func:`torch.tensor_split` (the first ``H % n`` rows of
    cells are one pixel taller, likewise for columns).

    Paper form (``normalize=None``, ICKD-S; the ``1 x 1`` grid is ICKD-C's
    term):

    .. math::

        L = \frac{1}{B}\sum_b \frac{1}{n m C^2}\sum_{cells}
            \lVert G_S - G_T \rVert_F^2 .

    Code form (``normalize='row'``): every row of each cell's Gram is
    L2-normalised (``F.normalize(G, dim=2)``, eps ``1e-12``) before the
    difference, as in the authors' released code, and the squared error
    summed over samples and matrix entries is divided by ``C * B``
    (``row_denominator='batch'``, the released CIFAR code) or by
    ``C * B**2`` (``row_denominator='batch_squared'``, their ImageNet copy).
    The authors only ever used one cell; mmkd applies their expression to
    every cell and averages over the ``n * m`` cells, so the ``1 x 1`` grid
    reproduces their number exactly.

    How it is computed (``impl='pixel'`` / ``'channel'`` / ``'auto'``):
    with :math:`D = X_S - X_T` and :math:`P = X_S + X_T`,
    :math:`G_S - G_T = (D P^\top + P D^\top)/2`, so the paper form's
    difference never comes from two large, nearly equal Grams (no
    cancellation near convergence). The pixel form never builds a
    ``C x C`` matrix:
    :math:`\lVert G_S - G_T\rVert_F^2 = (\langle D^\top D, P^\top P\rangle
    + \operatorname{tr}((P^\top D)^2))/2` needs three ``p x p`` products,
    ``O(p^2 C)`` per cell instead of ``O(C^2 p)``; the channel form makes
    one ``C x C`` product per cell. The row-normalised form has a pixel
    version too: row ``c`` of a cell's Gram has squared norm
    :math:`x_c^\top (X^\top X) x_c` and dot product with the teacher's row
    :math:`x^S_c{}^\top (X_S^\top X_T) x^T_c`, again ``p x p`` products
    (computed in float64, since ``2 - 2 cos`` cancels near convergence);
    its channel version builds the Grams in the input precision as the
    authors' code does (and, like it, loses relative accuracy in float32
    when student and teacher nearly agree).
    ``impl='auto'`` picks the pixel form for ``p <= C/3`` (paper form) or
    ``p <= C/8`` (row form), where it is the cheaper one. Products run in
    the input precision (float32 for half inputs; autocast is disabled);
    contractions of ``p x p`` matrices and the sum over cells run in
    float64. Cells of equal size (a grid has at most four sizes) are
    batched together in chunks of ``chunk_size`` cells (one cell = one
    sample's cell); the pixel form reads its cells from channels-last
    copies of a few samples at a time (at least one sample, otherwise as
    many as fit the chunk budget or ``chunk_size``). The input gradients
    are formed chunk by chunk during the forward pass (when the inputs
    require grad) and only scaled in the backward pass, so no intermediate
    outlives its chunk and nothing is recomputed: the extra memory is the
    gradient (one feature map per input that requires grad) plus those
    copies and one chunk's temporaries. The price is that a forward pass
    whose loss is never backpropagated still computes the gradient; under
    ``torch.no_grad()`` it does not.
    ``impl='explicit'`` runs :func:`ickd_loss_reference`.

    Args:
        student (Tensor): Student features (after the connector),
            ``B x C x H x W``.
        teacher (Tensor): Teacher features, same shape, usually detached.
        grid_size (int | tuple[int, int]): ``(n, m)`` cells along H and W;
            an int means a square grid. Default ``(1, 1)``.
        normalize (str | None): ``None`` for the paper's loss, ``'row'`` for
            the authors' code form.
        row_denominator (str): With ``normalize='row'``: ``'batch'``
            (divide by ``C*B``, released CIFAR code) or ``'batch_squared'``
            (``C*B**2``, ImageNet copy). Ignored otherwise.
        impl (str): ``'auto'``, ``'pixel'``, ``'channel'`` or
            ``'explicit'``, see above.
        chunk_size (int | None): Cells processed at once; ``None`` sizes
            chunks to about 64 MiB of temporaries.

    Note:
        An all-zero row of a Gram (a channel that is zero over a whole cell)
        is left at zero by the row normalisation, as ``F.normalize`` does in
        the authors' code, and gets a gradient of order ``1 / eps``
        (``eps = 1e-12``) in the row form. Teacher features are detached,
        and the connector output (conv + BN) is rarely exactly zero, but
        prefer the paper form on fine grids over ReLU features.

    Returns:
        Tensor: Scalar loss (float32 for float16/bfloat16/float32 inputs).
        The fast paths support first-order gradients only.

    Raises:
        ValueError: Inputs not 4-D or of different shapes, a grid larger
            than the map, or an unknown option.
    """
    grid = _parse_grid(grid_size)
    _check_options(normalize, row_denominator, impl, chunk_size)
    _check_tensors(student, teacher, grid)
    if impl == 'explicit':
        return ickd_loss_reference(student, teacher, grid, normalize,
                                   row_denominator)
    if normalize == 'row':
        return _ICKDFunction.apply(student, teacher, 'row', grid,
                                   row_denominator, impl, chunk_size)
    return _ICKDFunction.apply(student, teacher, None, grid, impl, chunk_size)


def _reject_kwargs(name: str, kwargs: dict) -> None:
    unexpected = sorted(set(kwargs) - {'target'})
    if unexpected:
        raise TypeError(f'{name}.forward() got unexpected keyword arguments '
                        f'{unexpected}; it accepts (student, teacher)')


@MODELS.register_module()
class ICKDLoss(nn.Module):
    """Inter-channel correlation distillation loss (ICKD, ICCV 2021).

    A thin module around :func:`ickd_loss`; see it for the formula, the
    options and how the loss is computed.

    Args:
        grid_size (int | tuple[int, int]): ``(n, m)`` grid of cells, ``n``
            along H and ``m`` along W. Default ``(1, 1)``.
        normalize (str | None): ``None`` (paper) or ``'row'`` (authors'
            code).
        row_denominator (str): ``'batch'`` (C*B, CIFAR code) or
            ``'batch_squared'`` (C*B^2, ImageNet code), for
            ``normalize='row'``.
        loss_weight (float): Multiplier of the loss. Default 1.0.
        impl (str): ``'auto'``, ``'pixel'``, ``'channel'`` or
            ``'explicit'``. Default ``'auto'``.
        chunk_size (int | None): Cells per chunk; ``None`` = automatic.

    Call: ``loss(student, teacher)`` with two ``B x C x H x W`` tensors of
    equal shape; returns ``loss_weight * ickd_loss(...)``. A ``target``
    keyword, if given, is ignored.
    """

    requires_target = False

    def __init__(self,
                 grid_size: GridSize = (1, 1),
                 normalize: Optional[str] = None,
                 row_denominator: str = 'batch',
                 loss_weight: float = 1.0,
                 impl: str = 'auto',
                 chunk_size: Optional[int] = None) -> None:
        super().__init__()
        self.grid_size = _parse_grid(grid_size)
        _check_options(normalize, row_denominator, impl, chunk_size)
        self.normalize = normalize
        self.row_denominator = row_denominator
        self.loss_weight = float(loss_weight)
        self.impl = impl
        self.chunk_size = chunk_size

    def forward(self, student: Tensor, teacher: Tensor, **kwargs) -> Tensor:
        _reject_kwargs(type(self).__name__, kwargs)
        return self.loss_weight * ickd_loss(
            student, teacher, self.grid_size, self.normalize,
            self.row_denominator, self.impl, self.chunk_size)

    def extra_repr(self) -> str:
        return (f'grid_size={self.grid_size}, normalize={self.normalize!r}, '
                f'row_denominator={self.row_denominator!r}, '
                f'loss_weight={self.loss_weight}, impl={self.impl!r}, '
                f'chunk_size={self.chunk_size}')
