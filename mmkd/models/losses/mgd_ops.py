"""Margins and channel reductions of Matching Guided Distillation (MGD).

Reference: Kaiyu Yue, Jiangfan Deng, Feng Zhou. "Matching Guided
Distillation", ECCV 2020. Pure functions used by
:class:`mmkd.models.losses.MatchingGuidedLoss` (``mgd_loss.py``, where the
whole loss is written out): the teacher margin (Sec. 3.3 of the paper),
the gathering of each student channel's matched teacher channels, the
AMP and RD reductions of such a group to one map, and the partial L2.
"""
from typing import Optional, Tuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = [
    'teacher_margin', 'margin_from_bn', 'gather_groups', 'reduce_amp',
    'reduce_random', 'partial_l2'
]


def teacher_margin(gamma: Tensor, beta: Tensor) -> Tensor:
    """Per-channel margin of a BN followed by a ReLU (MGD, Sec. 3.3).

    The BN output of channel ``c`` is modelled as ``N(m, s^2)`` with
    ``m = beta_c``, ``s = |gamma_c|``. The margin is the expectation of its
    negative part: ``m - s * phi(m/s) / Phi(-m/s)`` when ``Phi(-m/s) >
    0.001``, else ``-3s`` (``phi``, ``Phi``: standard normal pdf and cdf).
    A channel with ``s = 0`` is the constant ``m``: its margin is
    ``min(m, 0)`` (the limit of both branches).

    Args:
        gamma (Tensor): ``C`` BN weights.
        beta (Tensor): ``C`` BN biases.

    Returns:
        Tensor: ``C`` float32 margins on ``gamma``'s device.
    """
    s = gamma.detach().double().abs()
    m = beta.detach().double().to(s.device)
    safe_s = torch.where(s > 0, s, torch.ones_like(s))
    ratio = m / safe_s
    tail = torch.special.ndtr(-ratio)  # Phi(-m/s)
    pdf = torch.exp(-0.5 * ratio**2) / np.sqrt(2 * np.pi)  # phi(m/s)
    mills = m - safe_s * pdf / tail.clamp_min(1e-300)
    margin = torch.where(tail > 0.001, mills, -3 * s)
    margin = torch.where(s > 0, margin, m.clamp_max(0))
    return margin.float()


def margin_from_bn(bn: nn.Module) -> Tensor:
    """:func:`teacher_margin` of a BN's affine parameters (1/0 if none)."""
    if not isinstance(bn, _BatchNorm):
        raise TypeError(f'the margin needs a BatchNorm layer, got '
                        f'{type(bn).__name__}')
    c = bn.num_features
    gamma = bn.weight if bn.weight is not None else torch.ones(c)
    beta = bn.bias if bn.bias is not None else torch.zeros(c)
    return teacher_margin(gamma, beta)


def gather_groups(teacher: Tensor, assignment: Tensor) -> Tensor:
    """``B x G x C_s x H x W``: each student channel's teacher channels.

    Args:
        teacher (Tensor): ``B x C_t x H x W``.
        assignment (Tensor): long ``G x C_s`` teacher channel indices.
    """
    b, _, h, w = teacher.shape
    g, cs = assignment.shape
    return teacher.index_select(1, assignment.reshape(-1)).reshape(
        b, g, cs, h, w)


def reduce_amp(groups: Tensor, key: str = 'abs') -> Tensor:
    """Absolute max pooling over the group axis (dim 1).

    Args:
        groups (Tensor): ``B x G x C x H x W``.
        key (str): ``'abs'`` picks the member with the largest absolute
            value (the paper); ``'signed'`` the largest value (what the
            authors' released code computes).

    Returns:
        Tensor: ``B x C x H x W``, the picked members' (signed) values.
    """
    score = groups.abs() if key == 'abs' else groups
    index = score.argmax(dim=1, keepdim=True)
    return groups.gather(1, index).squeeze(1)


def reduce_random(groups: Tensor, margins: Tensor,
                  generator: Optional[torch.Generator] = None
                  ) -> Tuple[Tensor, Tensor]:
    """Random drop: per position, a uniformly random group member.

    Args:
        groups (Tensor): ``B x G x C x H x W``.
        margins (Tensor): ``G x C`` margins of the members.
        generator (torch.Generator, optional): Source of the draws.

    Returns:
        tuple[Tensor, Tensor]: The drawn values and the drawn members'
        margins, both ``B x C x H x W``.
    """
    b, g, c, h, w = groups.shape
    index = torch.randint(
        g, (b, 1, c, h, w), device=groups.device, generator=generator)
    values = groups.gather(1, index).squeeze(1)
    expanded = margins.to(groups.dtype).reshape(1, g, c, 1, 1).expand(
        b, g, c, h, w)
    return values, expanded.gather(1, index).squeeze(1)


def partial_l2(student: Tensor, teacher: Tensor, margin: Tensor) -> Tensor:
    """MGD's partial L2: ``sum (S - max(T, m))^2`` where it is counted.

    A position counts when ``S > T'`` or ``T' > 0`` (``T' = max(T, m)``):
    a student value already below a non-positive clamped teacher value is
    not penalised (both vanish after the ReLU). ``margin`` broadcasts
    against ``teacher`` (``1 x C x 1 x 1`` or full size).
    """
    target = torch.maximum(teacher, margin.to(teacher.dtype))
    mask = (student > target) | (target > 0)
    return ((student - target)**2 * mask.to(student.dtype)).sum()
