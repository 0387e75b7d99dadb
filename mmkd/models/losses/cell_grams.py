"""Per-cell Gram distance, ``sum_{b, cells} ||X_S X_S^T - X_T X_T^T||_F^2``.

The workhorse of ICKD's paper form (:mod:`.ickd_loss`) and, with the
channels of every cell normalised to unit length (cosine matrices), of
CCS's intra-instance term (:mod:`.ccs_loss`); run through the chunked
pixel / channel forms of :mod:`.grid_cells`.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple

import torch
from torch import Tensor

from .grid_cells import (ChunkedLoss, Grid, Need, Step, cells_for,
                         form_for, no_autocast, run_cells, working_dtype)

__all__ = ['gram_distance']

# With D = X_s - X_t and P = X_s + X_t (both C x p),
#     X_s X_s^T - X_t X_t^T = (D P^T + P D^T) / 2 = sym(D P^T),
# so the Gram difference comes from the (small, exactly formed) difference
# of the features instead of from two large Grams that nearly cancel.
# Channel form:  ||sym(D P^T)||^2 with one C x C product per cell.
# Pixel form:    ||sym(M)||^2 = (||M||^2 + tr(M M)) / 2 with M = D P^T, and
#     ||M||^2 = <D^T D, P^T P>,   tr(M M) = tr((P^T D)^2),
# three p x p products per cell, O(p^2 C) instead of O(C^2 p).
# Gradients: d/dX_s = 4 (G_s - G_t) X_s, d/dX_t = -4 (G_s - G_t) X_t.
# Work per cell, forward + backward: the pixel form costs about 5 p^2 C
# multiply-adds plus the channels-last copy, the channel form 2-3 C^2 p;
# measured on CPU they meet near p = C / 2, and 'auto' takes the pixel form
# up to p = C / GRAM_CROSSOVER.
GRAM_CROSSOVER = 3


def _gram_bytes(C: int, itemsize: int,
                cosine: bool) -> Callable[[int, str], int]:
    def fit(p: int, form: str) -> int:
        # cosine: normalised copies of both cells and the chain rule's
        # temporaries
        extra = 4 * C * p if cosine else 0
        if form == 'pixel':
            return (4 * C * p + extra) * itemsize  # S-T, S+T, 2 gradients
        # gathered cells, S - T, S + T, a gradient, M, sym(M), its square
        return (5 * C * p + 3 * C * C + extra) * itemsize

    return fit


def _gram_steps(C: int, dtype: torch.dtype, scale: float,
                need: Need) -> Tuple[Step, Step]:
    """Pixel and channel steps of ``scale * sum ||G_S - G_T||^2``."""

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
        pm64 = pm.double()
        value = 0.5 * ((uu.double() * vv.double()).sum() +
                       (pm64 * pm64.transpose(1, 2)).sum())
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
            g_s = grads[:, :p] if need[0] else None
            g_t = grads[:, -p:] if need[1] else None
        return value, g_s, g_t

    def channel_step(xs, xt, c):
        dg = torch.bmm(xs - xt, (xs + xt).transpose(1, 2))
        dg = (dg + dg.transpose(1, 2)).mul_(0.5)  # G_s - G_t, N x C x C
        value = (dg * dg).sum(dtype=torch.float64)
        g_s = g_t = None
        if need[0] or need[1]:
            dg.mul_(4 * scale)
        if need[0]:
            g_s = torch.bmm(dg, xs)  # 4 (G_s - G_t) X_s
        if need[1]:
            g_t = torch.bmm(dg, xt).neg_()
        return value, g_s, g_t

    return pixel_step, channel_step


# Cosine Grams. x_hat = x * r with r = 1 / |x| (0 for a zero channel: no
# direction, cosines 0 and a zero gradient), the norm taken over the p
# pixels of the cell. With g = dL/dx_hat, the chain rule through the
# normalisation is dL/dx = r (g - x_hat <x_hat, g>).
def _unit(x: Tensor, dims) -> Tuple[Tensor, Tensor]:
    """``x`` with unit channel vectors over ``dims`` (a new contiguous
    tensor) and the inverse norms ``r`` (keepdim)."""
    # one reduced dim at a time: a multi-dim reduction of these strided
    # views (and vector_norm) runs several times slower on CPU
    sq = x * x
    for d in sorted(dims, reverse=True):
        sq = sq.sum(d, keepdim=True)
    # 1 / |x| is +inf exactly where |x| = 0: those become 0
    r = sq.rsqrt_().nan_to_num_(posinf=0.0)
    unit = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    return torch.mul(x, r, out=unit), r


def _unit_grad(g: Tensor, unit: Tensor, r: Tensor, dim: int) -> Tensor:
    """``dL/dx`` from ``g = dL/dx_hat`` (``unit``, ``r``: from
    :func:`_unit`, reshaped like ``g``), computed in place of ``g``."""
    dot = (unit * g).sum(dim, keepdim=True)
    return g.addcmul_(unit, dot, value=-1).mul_(r)


def _cosine_steps(C: int, dtype: torch.dtype, scale: float,
                  need: Need) -> Tuple[Step, Step]:
    """The steps of :func:`_gram_steps` on cells whose channels are first
    normalised within the cell, with the gradient chained back."""
    gram_pixel, gram_channel = _gram_steps(C, dtype, scale, need)

    def pixel_step(cs, ct, c):
        # cells are kb x ki x kj x hh x ww x C: norms over (hh, ww)
        (us, rs), (ut, rt) = _unit(cs, (3, 4)), _unit(ct, (3, 4))
        value, g_s, g_t = gram_pixel(us, ut, c)
        cells, vec = (c.cells, c.hh * c.ww, C), (c.cells, 1, C)
        if g_s is not None:
            g_s = _unit_grad(g_s, us.view(cells), rs.view(vec), 1)
        if g_t is not None:
            g_t = _unit_grad(g_t, ut.view(cells), rt.view(vec), 1)
        return value, g_s, g_t

    def channel_step(xs, xt, c):
        # cells are N x C x p: norms over p
        (us, rs), (ut, rt) = _unit(xs, (2, )), _unit(xt, (2, ))
        value, g_s, g_t = gram_channel(us, ut, c)
        if g_s is not None:
            g_s = _unit_grad(g_s, us, rs, 2)
        if g_t is not None:
            g_t = _unit_grad(g_t, ut, rt, 2)
        return value, g_s, g_t

    return pixel_step, channel_step


def _gram_pass(student: Tensor, teacher: Tensor, grid: Grid, impl: str,
               chunk_size: Optional[int], scale: float, cosine: bool,
               need: Need):
    """``scale * sum ||G_S - G_T||^2`` and its input gradients."""
    C = student.shape[1]
    dtype = working_dtype(student)
    itemsize = torch.finfo(dtype).bits // 8
    steps = _cosine_steps if cosine else _gram_steps
    pixel_step, channel_step = steps(C, dtype, scale, need)
    with torch.no_grad(), no_autocast(student.device):
        total, grads = run_cells(
            student, teacher, grid, form_for(impl, C, GRAM_CROSSOVER),
            cells_for(chunk_size, _gram_bytes(C, itemsize, cosine)),
            chunk_size, need, dtype, pixel_step, channel_step)
    return total * scale, grads


def gram_distance(student: Tensor,
                  teacher: Tensor,
                  grid: Grid,
                  impl: str = 'auto',
                  chunk_size: Optional[int] = None,
                  scale: float = 1.0,
                  cosine: bool = False) -> Tensor:
    r"""``scale`` times the summed squared distance of per-cell Grams.

    .. math::

        \text{scale} \cdot \sum_b \sum_{cells}
            \lVert X_S X_S^\top - X_T X_T^\top \rVert_F^2,

    with :math:`X` a sample's cell flattened to ``C x p``. With
    ``cosine=True`` every row of :math:`X` (a channel over the cell's
    pixels) is first scaled to unit length, so the Grams hold cosines; a
    channel that is zero over the cell stays zero (cosines 0, gradient
    0). The normalisation and its gradient are done chunk by chunk with
    the rest, so they cost no pass over the whole map.

    Never forms the difference of two large Grams (it uses
    :math:`D = X_S - X_T`, :math:`P = X_S + X_T`); ``impl='pixel'`` never
    builds a ``C x C`` matrix (three ``p x p`` products per cell),
    ``'channel'`` builds one per cell, ``'auto'`` picks per cell size
    (pixel up to ``p = C / 3``). Products run in the input precision
    (float32 for half inputs, autocast disabled), ``p x p`` contractions
    and the sum over cells in float64. First-order gradients only. Inputs
    are not checked: see :func:`.grid_cells.check_grid_fits`.

    Args:
        student (Tensor): ``B x C x H x W``.
        teacher (Tensor): Same shape.
        grid (tuple[int, int]): ``(n, m)`` cells along H and W.
        impl (str): ``'auto'``, ``'pixel'`` or ``'channel'``.
        chunk_size (int | None): Cells per chunk; None sizes chunks to
            about 64 MiB of temporaries.
        scale (float): Multiplier (the loss's normalisation).
        cosine (bool): Normalise the channels of every cell first.

    Returns:
        Tensor: Scalar, float32 or wider.
    """
    return ChunkedLoss.apply(student, teacher, _gram_pass, grid, impl,
                             chunk_size, float(scale), bool(cosine))
