"""Channel matching of Matching Guided Distillation (MGD).

Reference: Kaiyu Yue, Jiangfan Deng, Feng Zhou. "Matching Guided
Distillation", ECCV 2020.

MGD pairs every student channel with teacher channels by solving a linear
assignment problem on a ``C_s x C_t`` cost, accumulated over a fixed image
set with both models in eval mode:

.. math::

    D_{ij} = \\frac{1}{N} \\sum_{b=1}^{N} \\left(2 - 2\\,
             \\hat{s}_{b,i}^\\top \\hat{t}_{b,j}\\right)

where ``s_{b,i}`` (``t_{b,j}``) is channel ``i`` (``j``) of image ``b``'s
student (teacher) feature map flattened over space and the hat means L2
normalised over space, so ``2 - 2 s^T t`` is the squared Euclidean
distance of the two unit vectors (in ``[0, 4]``; a channel that is zero
everywhere is left zero and costs exactly 2 against every channel).

Two assignment shapes:

* ``'many_to_one'`` (AMP and RD reductions): each student channel gets
  exactly ``G = C_t // C_s`` teacher channels. The cost is tiled ``G``
  times along the student axis (a ``G*C_s x C_t`` problem) and solved as
  a rectangular assignment: every teacher channel is used at most once and
  the ``C_t - G*C_s`` left over are dropped (the solver picks which ones,
  at the lowest total cost).
* ``'one_to_one'`` (SM): each student channel gets one teacher channel;
  the other ``C_t - C_s`` are dropped.

The solver is :func:`scipy.optimize.linear_sum_assignment` (exact,
deterministic). ``C_t < C_s`` cannot be matched and raises ``ValueError``.
"""
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from torch import Tensor

__all__ = [
    'MATCHING_MODES', 'channel_cost', 'check_channels', 'group_count',
    'identity_assignment', 'match_channels', 'assignment_cost'
]

MATCHING_MODES = ('many_to_one', 'one_to_one')

ArrayLike = Union[np.ndarray, Tensor]


def check_channels(student_channels: int, teacher_channels: int,
                   where: str = '') -> None:
    """Raise ``ValueError`` when the teacher has fewer channels.

    Args:
        student_channels (int): ``C_s``.
        teacher_channels (int): ``C_t``.
        where (str): Prefix of the message (e.g. the distill item).
    """
    if teacher_channels < student_channels:
        raise ValueError(
            f'{where}MGD needs at least as many teacher channels as student '
            f'channels, got C_t={teacher_channels} teacher channels < '
            f'C_s={student_channels} student channels; distil a wider '
            f'teacher layer or a narrower student layer')


def _check_mode(mode: str) -> None:
    if mode not in MATCHING_MODES:
        raise ValueError(f'matching mode {mode!r} is not one of '
                         f'{list(MATCHING_MODES)} (many_to_one for AMP/RD, '
                         f'one_to_one for SM)')


def group_count(student_channels: int, teacher_channels: int,
                mode: str) -> int:
    """Teacher channels per student channel: ``C_t // C_s`` or 1."""
    _check_mode(mode)
    check_channels(student_channels, teacher_channels)
    return teacher_channels // student_channels if mode == 'many_to_one' \
        else 1


def channel_cost(student: Tensor, teacher: Tensor) -> Tensor:
    """Matching cost of one batch, summed over its images.

    Args:
        student (Tensor): ``B x C_s x H x W`` (any number of trailing
            spatial dims; they are flattened).
        teacher (Tensor): ``B x C_t x H x W`` with the student's batch size
            and number of positions.

    Returns:
        Tensor: ``C_s x C_t`` float64 on the inputs' device,
        ``sum_b (2 - 2 * s_hat_b @ t_hat_b^T)`` where ``s_hat_b`` is image
        ``b``'s ``C_s x HW`` channel matrix with every row L2-normalised
        (zero rows stay zero). Divide the sum over the image set by the
        number of images to get the paper's cost.
    """
    for name, x in (('student', student), ('teacher', teacher)):
        if not isinstance(x, Tensor) or x.ndim < 3:
            raise ValueError(
                f'channel_cost: {name} must be a B x C x H x W tensor, got '
                f'{getattr(x, "shape", type(x).__name__)}')
    b, cs = student.shape[:2]
    bt, ct = teacher.shape[:2]
    s = student.detach().reshape(b, cs, -1)
    t = teacher.detach().reshape(bt, ct, -1)
    if b != bt or s.shape[2] != t.shape[2]:
        raise ValueError(
            f'channel_cost: student {tuple(student.shape)} and teacher '
            f'{tuple(teacher.shape)} must have the same batch size and '
            f'spatial size; resize one side (dict(type=\'Resize\') in the '
            f'distill item)')
    dtype = torch.promote_types(torch.promote_types(s.dtype, t.dtype),
                                torch.float32)
    s = F.normalize(s.to(dtype), p=2, dim=2)
    t = F.normalize(t.to(dtype), p=2, dim=2)
    # sum over images of s_b t_b^T as one C_s x (B*HW) @ (B*HW) x C_t
    sim = torch.einsum('bsn,btn->st', s, t).to(torch.float64)
    return 2.0 * b - 2.0 * sim


def _as_numpy(cost: ArrayLike) -> np.ndarray:
    if isinstance(cost, Tensor):
        cost = cost.detach().cpu().to(torch.float64).numpy()
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f'the cost must be a C_s x C_t matrix, got shape '
                         f'{cost.shape}')
    if not np.isfinite(cost).all():
        raise ValueError(
            'the matching cost has NaN or infinite entries (a feature with '
            'NaN/Inf values?); check the models on the matching images')
    return cost


def match_channels(cost: ArrayLike, mode: str = 'many_to_one') -> np.ndarray:
    """Solve the channel assignment.

    Args:
        cost (ndarray | Tensor): ``C_s x C_t`` cost (lower is better).
        mode (str): ``'many_to_one'`` (AMP, RD) or ``'one_to_one'`` (SM).

    Returns:
        ndarray: int64 ``G x C_s``; column ``i`` lists the teacher channels
        of student channel ``i`` (``G = C_t // C_s`` for many-to-one, 1 for
        one-to-one). All entries are distinct. The order inside a column
        carries no meaning.

    Raises:
        ValueError: ``C_t < C_s`` (naming both counts), an unknown mode or
            a non-finite cost.
    """
    _check_mode(mode)
    cost = _as_numpy(cost)
    cs, ct = cost.shape
    check_channels(cs, ct)
    groups = group_count(cs, ct, mode)
    # row r of the tiled problem is student channel r % C_s
    tiled = np.tile(cost, (groups, 1)) if groups > 1 else cost
    rows, cols = linear_sum_assignment(tiled)
    if len(rows) != groups * cs:  # cannot happen for C_t >= G * C_s
        raise RuntimeError(f'the assignment solver left rows unassigned '
                           f'({len(rows)} of {groups * cs})')
    out = np.empty(groups * cs, dtype=np.int64)
    out[rows] = cols
    return out.reshape(groups, cs)


def identity_assignment(student_channels: int, teacher_channels: int,
                        mode: str) -> Tensor:
    """The assignment used before the first matching.

    Student channel ``i`` gets teacher channels ``i, C_s + i, 2*C_s + i,
    ...`` (``G`` of them): the tiled identity, which is the plain identity
    ``i -> i`` for one-to-one.

    Returns:
        Tensor: long ``G x C_s``.
    """
    groups = group_count(student_channels, teacher_channels, mode)
    return torch.arange(groups * student_channels,
                        dtype=torch.long).reshape(groups, student_channels)


def assignment_cost(cost: ArrayLike, assignment: ArrayLike,
                    num_images: Optional[int] = None) -> float:
    """Mean cost of the matched pairs (for logs).

    Args:
        cost (ndarray | Tensor): ``C_s x C_t`` summed cost.
        assignment (ndarray | Tensor): ``G x C_s`` teacher channels.
        num_images (int, optional): Divide by it (the paper's averaged
            cost). Defaults to no division.

    Returns:
        float: Mean over the ``G*C_s`` matched pairs, in ``[0, 4]`` once
        divided by the number of images.
    """
    cost = _as_numpy(cost)
    if isinstance(assignment, Tensor):
        assignment = assignment.detach().cpu().numpy()
    assignment = np.asarray(assignment, dtype=np.int64)
    student = np.broadcast_to(np.arange(cost.shape[0]), assignment.shape)
    value = float(cost[student, assignment].mean())
    return value / num_images if num_images else value
