"""Attention transfer: Zagoruyko & Komodakis, "Paying More Attention to
Attention: Improving the Performance of Convolutional Neural Networks via
Attention Transfer", ICLR 2017."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillLoss
from .utils import check_pair, check_positive

__all__ = ['at_loss', 'ATLoss']


def attention_map(x: Tensor, p: float = 2) -> Tensor:
    """Spatial attention ``F.normalize(mean_c |x|^p)``, shape ``B x (H*W)``."""
    dtype = torch.promote_types(x.dtype, torch.float32)
    a = x.to(dtype).abs().pow(p).mean(dim=1).flatten(1)
    return F.normalize(a, dim=1)


def at_loss(student: Tensor, teacher: Tensor, p: float = 2) -> Tensor:
    r"""Attention transfer (AT) loss.

    Zagoruyko & Komodakis (ICLR 2017) summarise a feature map by where it is
    active: the spatial attention map of a sample is the channel mean of
    :math:`|F|^p`, flattened to ``H*W`` values and L2-normalised,
    :math:`a = Q / \lVert Q \rVert_2` with
    :math:`Q = \frac{1}{C}\sum_c |F_c|^p`. The loss is the squared
    Euclidean distance between the student's and the teacher's attention,
    averaged over the batch:

    .. math::

        L = \frac{1}{B} \sum_b \lVert a^S_b - a^T_b \rVert_2^2 .

    Attention maps carry no channel axis, so student and teacher may have
    different channel counts; batch and spatial size must match.

    On the reduction: the paper writes :math:`\frac{\beta}{2}\lVert
    a^S - a^T\rVert_2` (a norm, not squared) per layer; the authors' code
    uses ``(at(x) - at(y)).pow(2).mean()``, the mean over ``B*H*W``
    entries, times :math:`\beta/2` with :math:`\beta = 1000`. This function
    sums over positions instead, so the authors' setting corresponds to
    ``loss_weight = 500 / (H*W)``.

    Args:
        student (Tensor): Student map, ``B x C' x H x W``.
        teacher (Tensor): Teacher map, ``B x C x H x W``, usually detached.
        p (float): Exponent applied to ``|F|``. Default 2.

    Returns:
        Tensor: Scalar loss, float32 or wider.

    Raises:
        ValueError: Inputs not 4-D, different batch or spatial sizes, or a
            bad ``p``.
    """
    check_positive('p', p, 'the exponent of |F|; the paper uses 2')
    check_pair(
        student,
        teacher,
        channel_hint=None,
        size_hint="resize the student map to the teacher's H x W (channels "
        'may differ)')
    diff = attention_map(student, p) - attention_map(teacher, p)
    return diff.pow(2).sum(dim=1).mean()


@MODELS.register_module()
class ATLoss(DistillLoss):
    """Attention transfer loss (Zagoruyko & Komodakis, ICLR 2017).

    A thin module around :func:`at_loss`; see it for the formula and the
    reduction.

    Args:
        p (float): Exponent applied to ``|F|``. Default 2.
        loss_weight (float): Multiplier of the loss. Default 1.0.
        mask_invalid (bool): Zero the ``ignore_index`` and padded pixels of
            both maps (``valid_mask=``): they get zero attention, so the
            attention maps are normalised over the valid pixels only.
            Default False.

    Call: ``loss(student, teacher)`` (plus ``valid_mask=`` with
    ``mask_invalid=True``) with ``B x C' x H x W`` and ``B x C x H x W``
    tensors; returns ``loss_weight * at_loss(...)``.
    """

    supports_valid_mask = True
    # Attention maps average over channels: student and teacher may differ.
    requires_equal_channels = False

    def __init__(self,
                 p: float = 2,
                 loss_weight: float = 1.0,
                 mask_invalid: bool = False) -> None:
        super().__init__(loss_weight, mask_invalid)
        check_positive('p', p, 'the exponent of |F|; the paper uses 2')
        self.p = p

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        return at_loss(student, teacher, self.p)

    def extra_repr(self) -> str:
        return f'p={self.p}, {super().extra_repr()}'
