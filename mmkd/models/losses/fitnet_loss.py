"""FitNets hint loss: Romero et al., "FitNets: Hints for Thin Deep Nets",
ICLR 2015."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from mmkd.registry import MODELS
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
                reduction: str = 'mean') -> Tensor:
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

    Args:
        student (Tensor): Connected student features, ``B x C x H x W``.
        teacher (Tensor): Teacher features, same shape, usually detached.
        reduction (str): ``'mean'`` or ``'sum'``, see above.

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
    if reduction == 'mean':
        return sq.mean()
    return sq.sum() / student.shape[0]


@MODELS.register_module()
class FitNetsLoss(nn.Module):
    """FitNets hint loss (Romero et al., ICLR 2015).

    A thin module around :func:`fitnet_loss`; see it for the reductions.

    Args:
        loss_weight (float): Multiplier of the loss. Default 1.0.
        reduction (str): ``'mean'`` or ``'sum'`` (sum over C x H x W, mean
            over the batch). Default ``'mean'``.

    Call: ``loss(student, teacher)`` with two ``B x C x H x W`` tensors of
    equal shape; returns ``loss_weight * fitnet_loss(...)``. A ``target``
    keyword, if given, is ignored.
    """

    requires_target = False

    def __init__(self, loss_weight: float = 1.0,
                 reduction: str = 'mean') -> None:
        super().__init__()
        _check_reduction(reduction)
        self.loss_weight = float(loss_weight)
        self.reduction = reduction

    def forward(self, student: Tensor, teacher: Tensor, **kwargs) -> Tensor:
        unexpected = sorted(set(kwargs) - {'target'})
        if unexpected:
            raise TypeError(
                f'FitNetsLoss.forward() got unexpected keyword arguments '
                f'{unexpected}; it accepts (student, teacher)')
        return self.loss_weight * fitnet_loss(student, teacher,
                                              self.reduction)

    def extra_repr(self) -> str:
        return (f'loss_weight={self.loss_weight}, '
                f'reduction={self.reduction!r}')
