"""FitNets hint loss: Romero et al., "FitNets: Hints for Thin Deep Nets",
ICLR 2015."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss, resize_mask
from .utils import check_pair

__all__ = ['fitnet_loss', 'FitNetsLoss']

REDUCTIONS = ('mean', 'sum')


def _check_reduction(reduction) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(
            f"reduction={reduction!r} is not supported: use 'mean' (mean "
            f"over all elements) or 'sum' (sum over C x H x W, mean over the "
            f'batch)')


def fitnet_loss(student: Tensor,
                teacher: Tensor,
                reduction: str = 'mean',
                valid_mask: Optional[Tensor] = None) -> Tensor:
    r"""FitNets hint loss: squared error between connected features.

    Romero et al. (ICLR 2015) train a thin student's intermediate layer (the
    *guided* layer, passed through a regressor: mmkd's connector) to predict
    the teacher's intermediate layer (the *hint*) with the squared L2
    distance, :math:`\frac12\lVert u_h - r(v_g)\rVert^2` in the paper. mmkd
    drops the constant :math:`\frac12` (fold it into ``loss_weight``) and
    offers two reductions:

    * ``'mean'`` (default): :math:`\frac{1}{BCHW}\sum (S - T)^2`, i.e.
      ``F.mse_loss``;
    * ``'sum'``: :math:`\frac{1}{B}\sum (S - T)^2`, summed over
      ``C x H x W`` and averaged over the batch.

    With ``valid_mask`` the sum runs over the valid pixels only and
    ``'mean'`` divides by ``C`` times their number (``B H W`` becomes the
    count of valid pixels; 0 when there is none).

    Args:
        student (Tensor): Connected student features, ``B x C x H x W``.
        teacher (Tensor): Teacher features, same shape, usually detached.
        reduction (str): ``'mean'`` or ``'sum'``, see above.
        valid_mask (Tensor, optional): ``B x H' x W'`` bool, False at
            pixels to leave out; nearest-resized to ``H x W``.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Inputs not 4-D, of different shapes, or an unknown
            ``reduction``.
    """
    _check_reduction(reduction)
    check_pair(student, teacher)
    dtype = torch.promote_types(student.dtype, torch.float32)
    sq = (student.to(dtype) - teacher.to(dtype)).pow(2)
    if valid_mask is None:
        return sq.mean() if reduction == 'mean' else sq.sum() / sq.shape[0]
    mask = resize_mask(valid_mask.to(sq.device), sq.shape[-2:])
    total = torch.where(mask[:, None], sq, 0).sum()
    if reduction == 'mean':
        return total / (mask.sum() * sq.shape[1]).clamp_min(1)
    return total / sq.shape[0]


@MODELS.register_module()
class FitNetsLoss(DistillLoss):
    """FitNets hint loss (Romero et al., ICLR 2015).

    A thin module around :func:`fitnet_loss`; see it for the reductions.

    Args:
        loss_weight (float): Multiplier of the loss. Default 1.0.
        reduction (str): ``'mean'`` or ``'sum'`` (sum over C x H x W, mean
            over the batch). Default ``'mean'``.
        mask_invalid (bool): Leave ``ignore_index`` and padded pixels out
            (``valid_mask=``); ``'mean'`` then averages over valid pixels.
            Default False.

    Call: ``loss(student, teacher)`` (plus ``valid_mask=`` with
    ``mask_invalid=True``) with two ``B x C x H x W`` tensors of equal
    shape; returns ``loss_weight * fitnet_loss(...)``.
    """

    supports_valid_mask = True
    # the mean divides by the number of valid pixels: fitnet_loss masks
    masks_in_compute = True

    def __init__(self,
                 loss_weight: float = 1.0,
                 reduction: str = 'mean',
                 mask_invalid: bool = False) -> None:
        super().__init__(loss_weight, mask_invalid)
        _check_reduction(reduction)
        self.reduction = reduction

    def compute(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        return fitnet_loss(student, teacher, self.reduction, valid_mask)

    def extra_repr(self) -> str:
        return f'{super().extra_repr()}, reduction={self.reduction!r}'
