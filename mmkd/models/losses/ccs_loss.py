"""CCS: channel correlation structure distillation.

Reference: Li et al., "Knowledge Distillation via Channel Correlation
Structure", KSEM 2021 (LNAI 12815, doi:10.1007/978-3-030-82136-4_29). The
paper aligns the channel correlations of teacher and student within each
instance (feature-based) and across the instances of a mini-batch
(relation-based). No public code exists: the formulas below are mmkd's
reading of the paper (``docs/methods.md``, "CCS"), including the grid
version of the intra-instance term, which is mmkd's, after ICKD-S.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss
from .cell_grams import gram_distance
from .dist_utils import compensate_ddp_average, gather_with_grad
from .grid_cells import (Grid, GridSize, check_grid_fits, check_impl,
                         iter_cells, no_autocast, parse_grid)
from .utils import check_pair

__all__ = [
    'ccs_intra_loss', 'ccs_inter_loss', 'ccs_intra_loss_reference',
    'CCSLoss'
]


def _intra(student: Tensor, teacher: Tensor, grid: Grid, impl: str,
           chunk_size: Optional[int]) -> Tensor:
    """Intra term through the chunked cosine Grams (checked inputs)."""
    B, C = student.shape[:2]
    return gram_distance(student, teacher, grid, impl, chunk_size,
                         scale=1.0 / (B * grid[0] * grid[1] * C * C),
                         cosine=True)


def _batch_cosines(f: Tensor) -> Tensor:
    """Per channel, the B x B cosines of ``f`` (``B x C x HW``):
    ``C x B x B``; a zero channel has cosines 0 (and no NaN gradient)."""
    gram = torch.einsum('icp,jcp->cij', f, f)  # squared norms on the diag
    sq = gram.diagonal(dim1=1, dim2=2)  # C x B
    ok = sq > 0
    r = torch.where(ok, torch.where(ok, sq, 1).rsqrt(), 0)
    return gram * r[:, :, None] * r[:, None, :]


def _inter(student: Tensor, teacher: Tensor) -> Tensor:
    """Inter term over the global batch (checked inputs)."""
    dtype = torch.promote_types(student.dtype, torch.float32)
    fs = gather_with_grad(student.flatten(2).to(dtype))  # global B x C x HW
    ft = gather_with_grad(teacher.flatten(2).to(dtype))
    B, C = fs.shape[:2]
    if B == 1:
        # one sample has no relations: exactly 0, still in the graph
        return fs.flatten()[:0].sum()
    # The cosines come from per-channel B x B Grams of the raw maps (one
    # pass over each map, no normalised copy); the normalisation acts on
    # C x B x B numbers only. Autocast would run the Grams in half.
    with no_autocast(fs.device):
        diff = _batch_cosines(fs) - _batch_cosines(ft)
        loss = (diff * diff).sum() / (C * B * B)
    return compensate_ddp_average(loss)


def ccs_intra_loss(student: Tensor,
                   teacher: Tensor,
                   grid_size: GridSize = (1, 1),
                   impl: str = 'auto',
                   chunk_size: Optional[int] = None) -> Tensor:
    r"""CCS intra-instance (feature-based) term, per sample and grid cell.

    Each channel of a sample's cell, flattened to the ``p`` pixels of the
    cell, is L2-normalised over those pixels, :math:`\hat F`
    (``C x p``); :math:`M = \hat F \hat F^\top` (``C x C``) holds the
    cosines between channels. With an ``n x m`` grid (cells cut with
    :func:`torch.tensor_split`: the first ``H % n`` rows of cells are one
    pixel taller, likewise for columns):

    .. math::

        L_{intra} = \frac{1}{n m B C^2} \sum_b \sum_{cells}
            \lVert M^S_{b,cell} - M^T_{b,cell} \rVert_F^2 .

    The ``1 x 1`` grid is the paper's term (one matrix per sample). A
    channel that is zero over a cell has no direction: its cosines are 0.
    Teacher equal to student gives exactly 0.

    Computed like ICKD's paper form, by :func:`.cell_grams.gram_distance`
    with ``cosine=True``: the cells are normalised chunk by chunk (no pass
    over the whole map), then ``'pixel'`` uses three ``p x p`` products
    per cell, ``O(p^2 C)`` (fine grids, ``p < C``), ``'channel'`` one
    ``C x C`` product, ``'auto'`` (default) picks per cell size;
    ``'explicit'`` runs :func:`ccs_intra_loss_reference`. Chunked, float64
    accumulation, first-order gradients only.

    Args:
        student (Tensor): Student features (after the connector),
            ``B x C x H x W``.
        teacher (Tensor): Teacher features, same shape, usually detached.
        grid_size (int | tuple[int, int]): ``(n, m)`` cells along H and W.
            Default ``(1, 1)``.
        impl (str): ``'auto'``, ``'pixel'``, ``'channel'`` or
            ``'explicit'``.
        chunk_size (int | None): Cells per chunk; None = automatic.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Inputs not 4-D or of different shapes, a grid larger
            than the map, or an unknown option.
    """
    grid = parse_grid(grid_size)
    check_impl(impl, chunk_size)
    check_grid_fits(student, teacher, grid)
    if impl == 'explicit':
        return ccs_intra_loss_reference(student, teacher, grid)
    return _intra(student, teacher, grid, impl, chunk_size)


def ccs_intra_loss_reference(student: Tensor,
                             teacher: Tensor,
                             grid_size: GridSize = (1, 1)) -> Tensor:
    """:func:`ccs_intra_loss` written out: one explicit ``C x C`` cosine
    matrix per cell (``F.normalize``, plain autograd). Ground truth of the
    tests and the benchmark; ``O(C^2 p)`` per cell and every matrix is
    kept for the backward pass."""
    grid = parse_grid(grid_size)
    check_grid_fits(student, teacher, grid)
    B, C = student.shape[:2]
    dtype = torch.promote_types(student.dtype, torch.float32)
    total = student.new_zeros((), dtype=dtype)
    for s_cell, t_cell in iter_cells(grid, student, teacher):
        fs = F.normalize(s_cell.flatten(2).to(dtype), dim=2)  # B x C x p
        ft = F.normalize(t_cell.flatten(2).to(dtype), dim=2)
        ms = torch.bmm(fs, fs.transpose(1, 2))
        mt = torch.bmm(ft, ft.transpose(1, 2))
        total = total + (ms - mt).pow(2).sum()
    return total / (B * grid[0] * grid[1] * C * C)


def ccs_inter_loss(student: Tensor, teacher: Tensor) -> Tensor:
    r"""CCS inter-instance (relation-based) term over the (global) batch.

    Each channel ``c`` of sample ``i`` is flattened over the whole map and
    L2-normalised, :math:`\hat F_{i,c}` (``H*W`` values). Per channel, the
    ``B x B`` matrix of cosines between samples,
    :math:`N_c(i, j) = \langle \hat F_{i,c}, \hat F_{j,c} \rangle`, is
    matched:

    .. math::

        L_{inter} = \frac{1}{C B^2} \sum_c
            \lVert N^S_c - N^T_c \rVert_F^2 .

    Distributed training: ``B`` is the global batch. Both maps are gathered
    from every process with :func:`.dist_utils.gather_with_grad` and every
    process computes the same global value; its gradient is scaled by the
    world size (:func:`.dist_utils.compensate_ddp_average`) so that DDP's
    gradient average gives the single-process gradient on the global
    batch. A global batch of one sample has no relations: the term is then
    exactly 0 (it is defined from ``B = 1`` so that it can be combined
    with the intra term at any batch size). A channel that is zero over a
    sample has cosines 0; teacher equal to student gives exactly 0.

    The cosines are read off per-channel ``B x B`` Grams of the raw maps
    (one pass over each map, ``O(C B^2 H W)``, in float32 or wider), so
    a difference of cosines carries their absolute rounding error (about
    ``1e-7`` in float32), which matters only when student and teacher
    agree to about that precision.

    Args:
        student (Tensor): Student features, ``B x C x H x W``.
        teacher (Tensor): Teacher features, same shape, usually detached.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Inputs not 4-D or of different shapes.
    """
    check_pair(student, teacher, what='a B x C x H x W feature map')
    return _inter(student, teacher)


def _check_weights(intra_weight, inter_weight) -> None:
    for name, w in (('intra_weight', intra_weight),
                    ('inter_weight', inter_weight)):
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            raise ValueError(f'{name}={w!r} must be a number >= 0 (0 turns '
                             f'the term off)')
    if not intra_weight and not inter_weight:
        raise ValueError(
            'intra_weight and inter_weight are both 0, so CCS would be 0; '
            'give at least one term a positive weight')


@MODELS.register_module()
class CCSLoss(DistillLoss):
    r"""Channel correlation structure loss (CCS, Li et al., KSEM 2021).

    :math:`L = \lambda_{intra} L_{intra} + \lambda_{inter} L_{inter}` with
    :func:`ccs_intra_loss` (per sample, per grid cell) and
    :func:`ccs_inter_loss` (per channel, over the global batch); see them
    for the formulas. A term with weight 0 is not computed.

    Args:
        grid_size (int | tuple[int, int]): ``(n, m)`` grid of the intra
            term. Default ``(1, 1)``.
        intra_weight (float): :math:`\lambda_{intra} \ge 0`. Default 1.0.
        inter_weight (float): :math:`\lambda_{inter} \ge 0`. Default 1.0.
        loss_weight (float): Multiplier of the whole loss. Default 1.0.
        impl (str): Intra term: ``'auto'``, ``'pixel'``, ``'channel'`` or
            ``'explicit'``. Default ``'auto'``.
        chunk_size (int | None): Intra term: cells per chunk; None =
            automatic.
        mask_invalid (bool): Zero the ``ignore_index`` and padded pixels of
            both maps (``valid_mask=``): the cosines are then taken over
            the valid pixels. Default False.

    Call: ``loss(student, teacher)`` (plus ``valid_mask=`` with
    ``mask_invalid=True``) with two ``B x C x H x W`` tensors of equal
    shape. Defined from ``B = 1`` (the inter term is 0 on a global batch
    of one).
    """

    supports_valid_mask = True
    min_batch = 1

    def __init__(self,
                 grid_size: GridSize = (1, 1),
                 intra_weight: float = 1.0,
                 inter_weight: float = 1.0,
                 loss_weight: float = 1.0,
                 impl: str = 'auto',
                 chunk_size: Optional[int] = None,
                 mask_invalid: bool = False) -> None:
        super().__init__(loss_weight, mask_invalid)
        self.grid_size = parse_grid(grid_size)
        _check_weights(intra_weight, inter_weight)
        check_impl(impl, chunk_size)
        self.intra_weight = float(intra_weight)
        self.inter_weight = float(inter_weight)
        self.impl = impl
        self.chunk_size = chunk_size

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        grid = self.grid_size
        check_grid_fits(student, teacher, grid)
        total = 0
        if self.intra_weight and self.impl == 'explicit':
            total = self.intra_weight * ccs_intra_loss_reference(
                student, teacher, grid)
        elif self.intra_weight:
            total = self.intra_weight * _intra(student, teacher, grid,
                                               self.impl, self.chunk_size)
        if self.inter_weight:
            total = total + self.inter_weight * _inter(student, teacher)
        return total

    def extra_repr(self) -> str:
        return (f'grid_size={self.grid_size}, '
                f'intra_weight={self.intra_weight}, '
                f'inter_weight={self.inter_weight}, '
                f'{super().extra_repr()}, impl={self.impl!r}, '
                f'chunk_size={self.chunk_size}')
