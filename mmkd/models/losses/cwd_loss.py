"""Channel-wise distillation: Shu et al., "Channel-wise Knowledge
Distillation for Dense Prediction", ICCV 2021."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss, resize_mask
from .utils import check_pair, check_positive

__all__ = ['cwd_loss', 'ChannelWiseDivergence']

TAU_HINT = 'the softmax temperature; 1.0 is plain softmax'


def cwd_loss(student: Tensor,
             teacher: Tensor,
             tau: float = 1.0,
             valid_mask: Optional[Tensor] = None) -> Tensor:
    r"""Channel-wise distillation (CWD) loss.

    Shu et al. (ICCV 2021) turn every channel of a dense map into a
    distribution over the ``H*W`` spatial positions with a softmax at
    temperature :math:`\tau`, so that the student learns where each of the
    teacher's channels is most active. The loss is the KL divergence from
    the teacher's distribution to the student's, summed over positions and
    over the ``B*C`` (sample, channel) pairs, normalised by ``C*B``:

    .. math::

        L = \frac{\tau^2}{C B} \sum_{b, c} \sum_{i=1}^{H W}
            \phi(T_{b,c})_i \log
            \frac{\phi(T_{b,c})_i}{\phi(S_{b,c})_i},\qquad
        \phi(x)_i = \frac{\exp(x_i/\tau)}{\sum_j \exp(x_j/\tau)} .

    This is the normalisation of the paper and of mmrazor's
    ``ChannelWiseDivergence`` (whose Cityscapes recipe uses :math:`\tau=1`
    and weight 5 on the logits).

    With ``valid_mask`` the softmax and the KL run over the valid
    positions only (masked positions are not zeros, they are absent), and
    ``B`` counts the samples that have at least one valid position; a map
    with no valid position gives 0.

    Args:
        student (Tensor): Student map (logits or connected features),
            ``B x C x H x W``.
        teacher (Tensor): Teacher map, same shape, usually detached.
        tau (float): Temperature :math:`\tau > 0`. Default 1.0.
        valid_mask (Tensor, optional): ``B x H' x W'`` bool, False at
            positions to leave out; nearest-resized to ``H x W``.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Inputs not 4-D, of different shapes, or a bad ``tau``.
    """
    check_positive('tau', tau, TAU_HINT)
    check_pair(student, teacher)
    B, C, H, W = student.shape
    dtype = torch.promote_types(student.dtype, torch.float32)
    s = student.to(dtype).reshape(B * C, H * W) / tau
    t = teacher.to(dtype).reshape(B * C, H * W) / tau
    if valid_mask is None:
        log_p_t = F.log_softmax(t, dim=1)
        log_p_s = F.log_softmax(s, dim=1)
        kl = F.kl_div(log_p_s, log_p_t, reduction='sum', log_target=True)
        return kl * tau**2 / (C * B)
    mask = resize_mask(valid_mask.to(student.device), (H, W)).flatten(1)
    keep = mask[:, None].expand(B, C, H * W).reshape(B * C, H * W)
    # a very negative finite logit has probability 0 without the NaN that
    # -inf gives in fully masked rows (those become uniform, KL 0)
    fill = torch.finfo(dtype).min / 2
    log_p_t = F.log_softmax(t.masked_fill(~keep, fill), dim=1)
    log_p_s = F.log_softmax(s.masked_fill(~keep, fill), dim=1)
    kl = torch.where(keep, log_p_t.exp() * (log_p_t - log_p_s), 0).sum()
    samples = mask.any(dim=1).sum().clamp_min(1)
    return kl * tau**2 / (C * samples)


@MODELS.register_module()
class ChannelWiseDivergence(DistillLoss):
    """Channel-wise distillation loss (Shu et al., ICCV 2021).

    A thin module around :func:`cwd_loss`; see it for the formula.

    Args:
        tau (float): Temperature. Default 1.0.
        loss_weight (float): Multiplier of the loss. Default 1.0.
        mask_invalid (bool): Leave ``ignore_index`` and padded pixels out
            of the spatial softmax (``valid_mask=``). Default False.

    Call: ``loss(student, teacher)`` (plus ``valid_mask=`` with
    ``mask_invalid=True``) with two ``B x C x H x W`` tensors of equal
    shape; returns ``loss_weight * cwd_loss(...)``.
    """

    supports_valid_mask = True
    # a zeroed logit still takes softmax mass: cwd_loss masks itself
    masks_in_compute = True

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 mask_invalid: bool = False) -> None:
        super().__init__(loss_weight, mask_invalid)
        check_positive('tau', tau, TAU_HINT)
        self.tau = float(tau)

    def compute(self,
                student: Tensor,
                teacher: Tensor,
                valid_mask: Optional[Tensor] = None) -> Tensor:
        return cwd_loss(student, teacher, self.tau, valid_mask)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, {super().extra_repr()}'
