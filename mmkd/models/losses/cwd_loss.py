"""Channel-wise distillation: Shu et al., "Channel-wise Knowledge
Distillation for Dense Prediction", ICCV 2021."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmkd.registry import MODELS
from .utils import check_pair, check_positive

__all__ = ['cwd_loss', 'ChannelWiseDivergence']


def cwd_loss(student: Tensor, teacher: Tensor, tau: float = 1.0) -> Tensor:
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

    Args:
        student (Tensor): Student map (logits or connected features),
            ``B x C x H x W``.
        teacher (Tensor): Teacher map, same shape, usually detached.
        tau (float): Temperature :math:`\tau > 0`. Default 1.0.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Inputs not 4-D, of different shapes, or a bad ``tau``.
    """
    check_positive('tau', tau,
                   'the softmax temperature; 1.0 is plain softmax')
    check_pair(student, teacher)
    B, C, H, W = student.shape
    dtype = torch.promote_types(student.dtype, torch.float32)
    s = student.to(dtype).reshape(B * C, H * W) / tau
    t = teacher.to(dtype).reshape(B * C, H * W) / tau
    log_p_t = F.log_softmax(t, dim=1)
    log_p_s = F.log_softmax(s, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction='sum', log_target=True)
    return kl * tau**2 / (C * B)


@MODELS.register_module()
class ChannelWiseDivergence(nn.Module):
    """Channel-wise distillation loss (Shu et al., ICCV 2021).

    A thin module around :func:`cwd_loss`; see it for the formula.

    Args:
        tau (float): Temperature. Default 1.0.
        loss_weight (float): Multiplier of the loss. Default 1.0.

    Call: ``loss(student, teacher)`` with two ``B x C x H x W`` tensors of
    equal shape; returns ``loss_weight * cwd_loss(...)``. A ``target``
    keyword, if given, is ignored.
    """

    requires_target = False

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        check_positive('tau', tau,
                       'the softmax temperature; 1.0 is plain softmax')
        self.tau = float(tau)
        self.loss_weight = float(loss_weight)

    def forward(self, student: Tensor, teacher: Tensor, **kwargs) -> Tensor:
        unexpected = sorted(set(kwargs) - {'target'})
        if unexpected:
            raise TypeError(
                f'ChannelWiseDivergence.forward() got unexpected keyword '
                f'arguments {unexpected}; it accepts (student, teacher)')
        return self.loss_weight * cwd_loss(student, teacher, self.tau)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, loss_weight={self.loss_weight}'
