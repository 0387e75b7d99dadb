"""Channel-wise distillation: Shu et al., "Channel-wise Knowledge
Distillation for Dense Prediction", ICCV 2021."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmkd.registry import MODELS

__all__ = ['cwd_loss', 'ChannelWiseDivergence']


def _check_tau(tau) -> None:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or \
            not tau > 0:
        raise ValueError(
            f'tau={tau!r} must be a positive number (the softmax '
            f'temperature; 1.0 is plain softmax)')


def _check_pair(student: Tensor, teacher: Tensor) -> None:
    for name, x in (('student', student), ('teacher', teacher)):
        if not isinstance(x, Tensor):
            raise ValueError(f'{name} must be a Tensor, got {type(x)}')
        if x.ndim != 4:
            raise ValueError(
                f'{name} must be a B x C x H x W map, got shape '
                f'{tuple(x.shape)}; reshape it to 4-D')
        if not x.is_floating_point():
            raise ValueError(f'{name} must be floating point, got {x.dtype}')
    s, t = tuple(student.shape), tuple(teacher.shape)
    if s[0] != t[0]:
        raise ValueError(
            f'student {s} and teacher {t} differ in batch size; feed both '
            f'networks the same images')
    if s[1] != t[1]:
        raise ValueError(
            f'student {s} and teacher {t} differ in channels; add a '
            f'connector')
    if s[2:] != t[2:]:
        raise ValueError(
            f'student {s} and teacher {t} differ in spatial size; resize '
            f"the student map to the teacher's H x W")


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
    _check_tau(tau)
    _check_pair(student, teacher)
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
        _check_tau(tau)
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
