"""Grid cells: the machinery shared by the per-cell Gram losses.

ICKD-S (:mod:`.ickd_loss`) and the intra-instance term of CCS
(:mod:`.ccs_loss`) cut a ``B x C x H x W`` map into an ``n x m`` grid
(``n`` cells along H, ``m`` along W, :func:`torch.tensor_split` semantics:
the first ``H % n`` rows of cells are one pixel taller, likewise for
columns) and compare one ``C x C`` Gram per sample and cell. This module
holds what does not depend on the formula:

* :func:`parse_grid`, :func:`check_grid_fits`: options and shapes;
* :func:`bands`, :func:`chunks`: cells grouped by size (at most four sizes)
  and cut into chunks bounded in memory;
* :func:`run_cells`: one chunked pass over every cell with two per-chunk
  steps, the *pixel* form (``p x p`` products of cells read from
  channels-last copies; ``p`` pixels per cell) and the *channel* form
  (``C x C`` products of gathered cells), summing the value in float64 and
  writing input gradients chunk by chunk;
* :class:`ChunkedLoss`: an autograd function around such a pass whose
  gradient is formed in the forward pass and only scaled in the backward
  (:mod:`.cell_grams` builds the per-cell Gram distance of ICKD's paper
  form and of CCS on it);
* :func:`iter_cells`: the literal :func:`torch.tensor_split` loop of the
  reference implementations.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator, List, NamedTuple, Optional, Sequence
from typing import Tuple, Union

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from .utils import check_pair

GridSize = Union[int, Sequence[int]]
Grid = Tuple[int, int]
Need = Tuple[bool, bool]

IMPLS = ('auto', 'pixel', 'channel', 'explicit')
# Bytes of temporaries one chunk may use when ``chunk_size`` is None.
AUTO_CHUNK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------
# options and shapes
# --------------------------------------------------------------------------
def parse_grid(grid_size: GridSize) -> Grid:
    """Turn ``grid_size`` into ``(n, m)`` (cells along H, cells along W)."""
    bad = (f'grid_size must be an int or a pair of ints (n, m) with n cells '
           f'along H and m along W, got {grid_size!r}')
    if isinstance(grid_size, bool):
        raise ValueError(bad)
    if isinstance(grid_size, int):
        grid = (grid_size, grid_size)
    else:
        try:
            grid = tuple(grid_size)
        except TypeError:
            raise ValueError(bad) from None
    if len(grid) != 2 or not all(
            isinstance(g, int) and not isinstance(g, bool) for g in grid):
        raise ValueError(bad)
    if min(grid) < 1:
        raise ValueError(
            f'grid_size {grid_size!r} must be positive: use (1, 1) for one '
            f'matrix per image')
    return grid


def check_impl(impl: str, chunk_size: Optional[int]) -> None:
    """Check the ``impl`` and ``chunk_size`` options of a grid loss."""
    if impl not in IMPLS:
        raise ValueError(
            f'impl={impl!r} is not supported: use one of {IMPLS}')
    if chunk_size is not None and (
            isinstance(chunk_size, bool) or not isinstance(chunk_size, int)
            or chunk_size < 1):
        raise ValueError(
            f'chunk_size={chunk_size!r} must be a positive int (cells per '
            f'chunk) or None to size chunks automatically')


def check_grid_fits(student: Tensor, teacher: Tensor, grid: Grid) -> None:
    """Check a pair of ``B x C x H x W`` maps and that every cell is
    non-empty."""
    check_pair(student, teacher, what='a B x C x H x W feature map')
    n, m = grid
    H, W = student.shape[2:]
    if n > H or m > W:
        raise ValueError(
            f'grid_size ({n}, {m}) needs a map of at least {n} x {m} pixels '
            f'but the features are {H} x {W}; use a grid of at most '
            f'({min(n, H)}, {min(m, W)}) or distill a larger feature map')


def working_dtype(x: Tensor) -> torch.dtype:
    """float64 for float64 inputs, float32 for everything else."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def no_autocast(device: torch.device):
    """A context that disables autocast on ``device`` (if it has one)."""
    if torch.amp.is_autocast_available(device.type):
        return torch.autocast(device_type=device.type, enabled=False)
    return contextlib.nullcontext()


# --------------------------------------------------------------------------
# cells: bands, chunks, per-cell sums, gather and scatter
# --------------------------------------------------------------------------
class Band(NamedTuple):
    start: int  # first pixel of the band
    count: int  # number of cells in the band
    size: int  # pixels per cell along this axis


def bands(length: int, parts: int) -> List[Band]:
    """Cells of ``torch.tensor_split(length, parts)`` grouped by size.

    ``tensor_split`` gives the first ``length % parts`` pieces one pixel more
    than the others, so there are at most two sizes per axis.
    """
    q, r = divmod(length, parts)
    out = []
    if r:
        out.append(Band(0, r, q + 1))
    if parts - r:
        out.append(Band(r * (q + 1), parts - r, q))
    return out


def iter_cells(grid: Grid, *maps: Tensor) -> Iterator[Tuple[Tensor, ...]]:
    """Yield the cells of ``maps`` (``B x C x h x w`` views, one per map),
    cut literally with :func:`torch.tensor_split`; for reference code."""
    n, m = grid
    for rows in zip(*(torch.tensor_split(x, n, dim=2) for x in maps)):
        yield from zip(*(torch.tensor_split(r, m, dim=3) for r in rows))


class Chunk(NamedTuple):
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


def chunks(shape: torch.Size, grid: Grid, form_for: Callable[[int], str],
           cells_for: Callable[[int, str], int]) -> Iterator[Chunk]:
    """Split the cells into rectangular blocks of equally sized cells.

    Cells of one size (at most 4 sizes, from :func:`bands`) are cut into
    blocks of ``kb`` samples x ``ki`` x ``kj`` cells holding at most
    ``cells_for(p, form)`` cells each.
    """
    B, _, H, W = shape
    n, m = grid
    for rb in bands(H, n):
        for cb in bands(W, m):
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
                        yield Chunk(
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


def _cells(hwc: Tensor, c: Chunk) -> Tensor:
    """Cells of chunk ``c`` of a k x H x W x C slab, as a view shaped
    kb x ki x kj x hh x ww x C."""
    return hwc[c.batch, c.rows, c.cols].view(
        c.kb, c.ki, c.hh, c.kj, c.ww, hwc.shape[-1]).permute(0, 1, 3, 2, 4, 5)


def _gather_cp(x: Tensor, c: Chunk, dtype: torch.dtype) -> Tensor:
    """Cells of chunk ``c`` of ``x`` (B x C x H x W) as N x C x p."""
    C = x.shape[1]
    v = x[c.batch, :, c.rows, c.cols].view(c.kb, C, c.ki, c.hh, c.kj, c.ww)
    return v.permute(0, 2, 4, 1, 3, 5).reshape(
        c.cells, C, c.hh * c.ww).to(dtype)


def _scatter_cp(out: Tensor, c: Chunk, g: Tensor) -> None:
    """Write per-cell gradients ``g`` (N x C x p) into ``out`` (B x C x H x
    W)."""
    C = out.shape[1]
    dst = out[c.batch, :, c.rows, c.cols].view(
        c.kb, C, c.ki, c.hh, c.kj, c.ww)
    dst.copy_(g.view(c.kb, c.ki, c.kj, C, c.hh, c.ww).permute(
        0, 3, 1, 4, 2, 5))


# A step gets the cells of one chunk of student and teacher and returns the
# chunk's float64 value and the per-cell input gradients (None where not
# needed): pixel steps get kb x ki x kj x hh x ww x C views and return
# N x p x C gradients, channel steps get and return N x C x p.
Step = Callable[[Tensor, Tensor, Chunk],
                Tuple[Tensor, Optional[Tensor], Optional[Tensor]]]


def form_for(impl: str, C: int, crossover: int) -> Callable[[int], str]:
    """The form of a cell of ``p`` pixels: ``impl`` when it names one, for
    ``'auto'`` the pixel form up to ``p = C / crossover``."""
    if impl in ('pixel', 'channel'):
        return lambda p: impl
    return lambda p: 'pixel' if crossover * p <= C else 'channel'


def cells_for(chunk_size: Optional[int],
              bytes_for: Callable[[int, str], int]
              ) -> Callable[[int, str], int]:
    """Cells per chunk: ``chunk_size``, or as many as fit
    ``AUTO_CHUNK_BYTES`` when a cell of ``p`` pixels in ``form`` needs
    ``bytes_for(p, form)`` bytes of temporaries."""
    if chunk_size is not None:
        return lambda p, form: chunk_size
    return lambda p, form: max(1, AUTO_CHUNK_BYTES // bytes_for(p, form))


def run_cells(student: Tensor, teacher: Tensor, grid: Grid,
              form_of: Callable[[int], str],
              cells_of: Callable[[int, str], int],
              chunk_size: Optional[int], need: Need, dtype: torch.dtype,
              pixel_step: Step, channel_step: Step):
    """Run a chunked pass over all cells; return the summed float64 value
    and the input gradients (``None`` where not ``need``-ed).

    Pixel-form cells are read from channels-last slabs of a few samples
    (as many as fit the chunk budget, or ``chunk_size // (n * m)``, at
    least one); channel-form cells are gathered from the inputs directly.
    """
    B, C, H, W = student.shape
    grad_s = torch.empty_like(student) if need[0] else None
    grad_t = torch.empty_like(teacher) if need[1] else None
    total = torch.zeros((), dtype=torch.float64, device=student.device)
    todo = list(chunks(student.shape, grid, form_of, cells_of))
    if any(c.form == 'pixel' for c in todo):
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
            for c in chunks(hs.shape[:1] + student.shape[1:], grid, form_of,
                            cells_of):
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
    for c in todo:
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


class ChunkedLoss(torch.autograd.Function):
    """A scalar loss of two maps whose gradient is formed in the forward.

    ``ChunkedLoss.apply(student, teacher, run, *args)`` calls
    ``run(student, teacher, *args, need=(bool, bool))``, which returns
    ``(value, (grad_student, grad_teacher))``: the gradients of the value,
    computed chunk by chunk while each chunk is at hand (as fused
    cross-entropy kernels do). The backward pass only scales them by the
    incoming gradient, so no intermediate outlives its chunk and nothing
    is recomputed; a second backward pass (``retain_graph=True``) calls
    ``run`` again. Returns the value as float32 or wider.
    """

    @staticmethod
    def forward(ctx, student, teacher, run, *args):
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
