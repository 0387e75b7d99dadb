"""Pixel-wise KD: Hinton et al., "Distilling the Knowledge in a Neural
Network", NIPS 2014 Deep Learning Workshop (arXiv:1503.02531), applied to
every pixel of a segmentation map."""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss
from .utils import check_pair, check_positive

__all__ = ['kd_loss', 'KDLoss']

RESIZE_OPTIONS = ('logits', 'target')


def _check_options(tau, resize) -> None:
    check_positive('tau', tau, 'the softmax temperature; 1.0 is plain '
                   'softmax')
    if resize not in RESIZE_OPTIONS:
        raise ValueError(
            f"resize={resize!r} is not supported: use 'logits' (upsample "
            f"the logits to the label size) or 'target' (downsample the "
            f'labels to the logit size)')


def _check_target(target: Tensor, batch: int) -> Tensor:
    if not isinstance(target, Tensor):
        raise ValueError(f'target must be a Tensor, got {type(target)}')
    if target.ndim == 4 and target.shape[1] == 1:
        target = target[:, 0]  # mmseg stacks gt_sem_seg as B x 1 x H x W
    if target.ndim != 3:
        raise ValueError(
            f'target must be B x H x W labels (or B x 1 x H x W), got shape '
            f'{tuple(target.shape)}')
    if target.is_floating_point() or target.is_complex() or \
            target.dtype == torch.bool:
        raise ValueError(
            f'target must hold integer class indices, got {target.dtype}; '
            f'convert it with .long()')
    if target.shape[0] != batch:
        raise ValueError(
            f'target has batch size {target.shape[0]} but the logits have '
            f'{batch}; pass the labels of the same images')
    return target


def kd_loss(student: Tensor,
            teacher: Tensor,
            target: Optional[Tensor] = None,
            tau: float = 1.0,
            ignore_index: int = 255,
            resize: str = 'logits') -> Tensor:
    r"""Pixel-wise knowledge distillation loss on segmentation logits.

    Hinton et al. soften both networks' class distributions with a
    temperature :math:`\tau` and make the student match the teacher's. For
    segmentation the loss is applied at every pixel ``i``:

    .. math::

        L = \frac{\tau^2}{|V|} \sum_{i \in V}
            \mathrm{KL}\big(\mathrm{softmax}(z^T_i / \tau)\ \Vert\
                             \mathrm{softmax}(z^S_i / \tau)\big),

    where the KL divergence sums over the ``K`` classes and ``V`` is the set
    of valid pixels (label ``!= ignore_index``). The :math:`\tau^2` factor
    keeps the gradient scale independent of the temperature.

    Logits usually come at a lower resolution than the labels. With
    ``resize='logits'`` (default) both logit maps are bilinearly upsampled
    to the label size (``align_corners=False``, as mmseg's decode-head loss
    does) before the KL is taken; with ``resize='target'`` the labels are
    downsampled to the logit size with nearest-neighbour interpolation
    (``F.interpolate(mode='nearest')``), which is cheaper. Without a target
    every pixel of the logit map counts and nothing is resized. If every
    pixel is ignored the loss is 0 (still attached to the graph, no NaN).

    Args:
        student (Tensor): Student logits, ``B x K x h x w``.
        teacher (Tensor): Teacher logits, same shape, usually detached.
        target (Tensor, optional): Labels ``B x H x W`` (``B x 1 x H x W``
            is accepted too), integer dtype, at label resolution.
        tau (float): Temperature :math:`\tau > 0`. Default 1.0.
        ignore_index (int): Label of pixels to leave out. Default 255.
        resize (str): ``'logits'`` or ``'target'``, see above.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Logits not 4-D or of different shapes, a bad target, or
            an unknown option.
    """
    _check_options(tau, resize)
    check_pair(
        student,
        teacher,
        what='B x K x h x w logits',
        channel_hint='differ in the number of classes; KD needs logits '
        'over the same classes',
        size_hint="resize the student logits to the teacher's h x w")
    dtype = torch.promote_types(student.dtype, torch.float32)
    student, teacher = student.to(dtype), teacher.to(dtype)
    valid = None
    if target is not None:
        target = _check_target(target, student.shape[0])
        size = tuple(target.shape[-2:])
        if size != tuple(student.shape[-2:]):
            if resize == 'logits':
                student = F.interpolate(
                    student, size=size, mode='bilinear', align_corners=False)
                teacher = F.interpolate(
                    teacher, size=size, mode='bilinear', align_corners=False)
            else:
                target = F.interpolate(
                    target[:, None].to(dtype), size=student.shape[-2:],
                    mode='nearest')[:, 0].long()
        valid = target != ignore_index
    log_p_s = F.log_softmax(student / tau, dim=1)
    log_p_t = F.log_softmax(teacher / tau, dim=1)
    # KL(p_t || p_s) per pixel, summed over classes: B x H x W
    kl = F.kl_div(log_p_s, log_p_t, reduction='none',
                  log_target=True).sum(dim=1)
    if valid is None:
        return kl.mean() * tau**2
    kl = torch.where(valid, kl, kl.new_zeros(()))
    return kl.sum() / valid.sum().clamp_min(1) * tau**2


@MODELS.register_module()
class KDLoss(DistillLoss):
    """Pixel-wise KD loss (Hinton et al. 2015) for segmentation logits.

    A thin module around :func:`kd_loss`; see it for the formula and the
    resizing rules. The labels leave the ``ignore_index`` pixels out, so
    there is no ``mask_invalid`` option.

    Args:
        tau (float): Temperature. Default 1.0.
        loss_weight (float): Multiplier of the loss. Default 1.0.
        ignore_index (int): Label of pixels to leave out. Default 255.
        resize (str): ``'logits'`` (upsample logits to the labels) or
            ``'target'`` (downsample labels to the logits).

    Call: ``loss(student_logits, teacher_logits, target=labels)``; returns
    ``loss_weight * kd_loss(...)``.
    """

    requires_target = True

    def __init__(self,
                 tau: float = 1.0,
                 loss_weight: float = 1.0,
                 ignore_index: int = 255,
                 resize: str = 'logits') -> None:
        super().__init__(loss_weight)
        _check_options(tau, resize)
        self.tau = float(tau)
        self.ignore_index = int(ignore_index)
        self.resize = resize

    def compute(self,
                student: Tensor,
                teacher: Tensor,
                target: Optional[Tensor] = None) -> Tensor:
        return kd_loss(student, teacher, target, self.tau, self.ignore_index,
                       self.resize)

    def extra_repr(self) -> str:
        return (f'tau={self.tau}, {super().extra_repr()}, '
                f'ignore_index={self.ignore_index}, resize={self.resize!r}')
