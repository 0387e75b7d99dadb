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

The cell machinery (bands, chunks, the two forms, the autograd function
that forms the gradient chunk by chunk) is in :mod:`.grid_cells`; the
paper form's per-cell Gram distance in :mod:`.cell_grams`. This module
holds ICKD's normalisations and its row-normalised (authors' code) form.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss
from .cell_grams import gram_distance
from .grid_cells import (ChunkedLoss, Grid, GridSize, Need, cells_for,
                         check_grid_fits, check_impl, form_for, iter_cells,
                         no_autocast, parse_grid, run_cells, working_dtype)

__all__ = ['ickd_loss', 'ickd_loss_reference', 'ICKDLoss']

NORMALIZE_OPTIONS = (None, 'row')
ROW_DENOMINATORS = ('batch', 'batch_squared')


def _check_options(normalize, row_denominator) -> None:
    if normalize not in NORMALIZE_OPTIONS:
        raise ValueError(
            f'normalize={normalize!r} is not supported: use None (the '
            f"paper's loss) or 'row' (the authors' released code)")
    if row_denominator not in ROW_DENOMINATORS:
        raise ValueError(
            f'row_denominator={row_denominator!r} is not supported: use '
            f"'batch' (C*B, released CIFAR code) or 'batch_squared' "
            f'(C*B^2, their ImageNet copy)')


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
# float64 p x p products (about 18 p^2 C per cell with the gradient)
# against float32 Grams (about 6 C^2 p plus the C x C normalisation):
# measured crossover near p = C / 8.
_NORMALIZE_EPS = 1e-12  # F.normalize's default, as in the authors' code
ROW_CROSSOVER = 8


def _row_bytes(C: int, itemsize: int) -> Callable[[int, str], int]:
    def fit(p: int, form: str) -> int:
        if form == 'pixel':
            # float64 cells, their products and gradients
            return 8 * C * p * 8
        # two gathered cells, two Grams, their normalised copies, the
        # difference and autograd's buffers
        return (4 * C * p + 8 * C * C) * itemsize

    return fit


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


def _row_pass(student: Tensor, teacher: Tensor, grid: Grid,
              row_denominator: str, impl: str, chunk_size: Optional[int],
              need: Need):
    """Row-normalised loss and, where ``need`` says so, input gradients.

    Each chunk is differentiated by autograd while it is at hand, so its
    Grams (channel form) never outlive it.
    """
    B, C = student.shape[:2]
    dtype = working_dtype(student)
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

    with torch.no_grad(), no_autocast(student.device):
        total, grads = run_cells(
            student, teacher, grid, form_for(impl, C, ROW_CROSSOVER),
            cells_for(chunk_size, _row_bytes(C, itemsize)), chunk_size,
            need, dtype, pixel_step, channel_step)
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
    grid = parse_grid(grid_size)
    _check_options(normalize, row_denominator)
    check_grid_fits(student, teacher, grid)
    B, C = student.shape[:2]
    n, m = grid
    dtype = torch.promote_types(student.dtype, torch.float32)
    total = student.new_zeros((), dtype=dtype)
    for s_cell, t_cell in iter_cells(grid, student, teacher):
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
    grid = parse_grid(grid_size)
    _check_options(normalize, row_denominator)
    check_impl(impl, chunk_size)
    check_grid_fits(student, teacher, grid)
    if impl == 'explicit':
        return ickd_loss_reference(student, teacher, grid, normalize,
                                   row_denominator)
    if normalize == 'row':
        return ChunkedLoss.apply(student, teacher, _row_pass, grid,
                                 row_denominator, impl, chunk_size)
    B, C = student.shape[:2]
    return gram_distance(student, teacher, grid, impl, chunk_size,
                         scale=1.0 / (B * grid[0] * grid[1] * C * C))


@MODELS.register_module()
class ICKDLoss(DistillLoss):
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
        mask_invalid (bool): Zero the ``ignore_index`` and padded pixels of
            both maps (``valid_mask=``), which leaves them out of every
            Gram. Default False.

    Call: ``loss(student, teacher)`` (plus ``valid_mask=`` with
    ``mask_invalid=True``) with two ``B x C x H x W`` tensors of equal
    shape; returns ``loss_weight * ickd_loss(...)``.
    """

    supports_valid_mask = True

    def __init__(self,
                 grid_size: GridSize = (1, 1),
                 normalize: Optional[str] = None,
                 row_denominator: str = 'batch',
                 loss_weight: float = 1.0,
                 impl: str = 'auto',
                 chunk_size: Optional[int] = None,
                 mask_invalid: bool = False) -> None:
        super().__init__(loss_weight, mask_invalid)
        self.grid_size = parse_grid(grid_size)
        _check_options(normalize, row_denominator)
        check_impl(impl, chunk_size)
        self.normalize = normalize
        self.row_denominator = row_denominator
        self.impl = impl
        self.chunk_size = chunk_size

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        return ickd_loss(student, teacher, self.grid_size, self.normalize,
                         self.row_denominator, self.impl, self.chunk_size)

    def extra_repr(self) -> str:
        return (f'grid_size={self.grid_size}, normalize={self.normalize!r}, '
                f'row_denominator={self.row_denominator!r}, '
                f'{super().extra_repr()}, impl={self.impl!r}, '
                f'chunk_size={self.chunk_size}')
