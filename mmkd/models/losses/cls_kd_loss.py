"""KD on classification logits: Hinton et al., "Distilling the Knowledge in
a Neural Network", NIPS 2014 Deep Learning Workshop (arXiv:1503.02531)."""
import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss

__all__ = ['cls_kd_loss', 'ClsKDLoss']


def _check_tau(tau) -> None:
    if isinstance(tau, bool) or not isinstance(tau, (int, float)) or \
            not tau > 0:
        raise ValueError(f'tau={tau!r} must be a positive number (the '
                         f'softmax temperature; 1.0 is plain softmax)')


def cls_kd_loss(student: Tensor, teacher: Tensor, tau: float = 1.0) -> Tensor:
    r"""Knowledge distillation loss on ``B x K`` classification logits.

    Both networks' class distributions are softened with the temperature
    :math:`\tau` and the student's is pulled towards the teacher's:

    .. math::

        L = \frac{\tau^2}{B} \sum_b \mathrm{KL}\big(
            \mathrm{softmax}(z^T_b / \tau)\ \Vert\
            \mathrm{softmax}(z^S_b / \tau)\big),

    the KL divergence summed over the ``K`` classes and averaged over the
    batch (``reduction='batchmean'``). The :math:`\tau^2` factor keeps the
    gradient scale independent of the temperature. This is the ``DistillKL``
    of the CRD/ICKD code bases (``kl_div(..., size_average=False) * T**2 /
    B``).

    Args:
        student (Tensor): Student logits, ``B x K``.
        teacher (Tensor): Teacher logits, ``B x K``, usually detached.
        tau (float): Temperature :math:`\tau > 0`. Default 1.0.

    Returns:
        Tensor: Scalar loss (float32 for half inputs).

    Raises:
        ValueError: Logits not 2-D, of different shapes, or a bad ``tau``.
    """
    _check_tau(tau)
    for name, x in (('student', student), ('teacher', teacher)):
        if not isinstance(x, Tensor) or x.ndim != 2:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x)
            raise ValueError(
                f'{name} must be B x K logits, got {shape}; record the '
                f"classifier's output (e.g. 'fc'), or use KDLoss for "
                f'B x K x H x W segmentation logits')
    if student.shape != teacher.shape:
        raise ValueError(
            f'student {tuple(student.shape)} and teacher '
            f'{tuple(teacher.shape)} logits differ; KD needs the same batch '
            f'and the same classes')
    dtype = torch.promote_types(student.dtype, torch.float32)
    log_p_s = F.log_softmax(student.to(dtype) / tau, dim=1)
    log_p_t = F.log_softmax(teacher.to(dtype) / tau, dim=1)
    kl = F.kl_div(log_p_s, log_p_t, reduction='batchmean', log_target=True)
    return kl * tau**2


@MODELS.register_module()
class ClsKDLoss(DistillLoss):
    """KD loss (Hinton et al. 2015) on ``B x K`` classification logits.

    A thin module around :func:`cls_kd_loss`; see it for the formula.

    Args:
        tau (float): Temperature. Default 1.0.
        loss_weight (float): Multiplier of the loss. Default 1.0.

    Call: ``loss(student_logits, teacher_logits)``; returns
    ``loss_weight * cls_kd_loss(...)``.
    """

    requires_target = False
    requires_equal_channels = True

    def __init__(self, tau: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight=loss_weight)
        _check_tau(tau)
        self.tau = float(tau)

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        return cls_kd_loss(student, teacher, self.tau)

    def extra_repr(self) -> str:
        return f'tau={self.tau}, loss_weight={self.loss_weight}'
