"""The pure functions of the instance relationship graph (IRG) loss.

Reference: Yufan Liu et al., "Knowledge Distillation via Instance
Relationship Graph", CVPR 2019. The per-sample embedding, the normalised
edge graph and transformation vector, and the vertex, edge and
transformation terms; the registered modules that wrap them (with the
global batch under DDP) are in ``irg_loss.py``, where the method is
described.
"""
from typing import Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'irg_embed', 'irg_edge_matrix', 'irg_transformation_vector',
    'irg_vertex_loss', 'irg_edge_loss', 'irg_transformation_loss',
    'irg_position_edge_matrix', 'irg_position_edge_loss'
]

_POOLS = ('avg', 'flatten')
_REDUCTIONS = ('mean', 'caffe')
_DISTANCES = ('squared', 'cosine')


def _check_choice(name: str, value, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f'{name}={value!r} is not one of {list(choices)}')


def _float(x: Tensor, name: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise ValueError(f'{name} must be a Tensor, got {type(x).__name__}')
    if not x.is_floating_point():
        raise ValueError(f'{name} must be floating point, got {x.dtype}')
    return x.to(torch.promote_types(x.dtype, torch.float32))


def irg_embed(x: Tensor, pool: str = 'avg', name: str = 'feature') -> Tensor:
    """Per-sample vectors ``B x D`` of a ``B x C x H x W`` map or ``B x D``.

    ``pool='avg'``: global average over ``H x W`` (``D = C``);
    ``pool='flatten'``: the whole map (``D = C*H*W``). ``B x D`` inputs are
    returned as they are. Promoted to float32 or wider.
    """
    _check_choice('pool', pool, _POOLS)
    x = _float(x, name)
    if x.ndim == 4:
        return x.mean(dim=(2, 3)) if pool == 'avg' else x.flatten(1)
    if x.ndim == 2:
        return x
    raise ValueError(f'{name} must be B x C x H x W or B x D, got shape '
                     f'{tuple(x.shape)}')


def _normalise(d: Tensor, max_value: Optional[Tensor]) -> Tensor:
    """``d / max`` with the max a constant; an all-zero ``d`` stays 0.

    ``max_value`` is one number, or one per leading index of ``d`` (shape
    ``d.shape[:k]``: one normaliser per graph of a stack).
    """
    if d.numel() == 0:
        return d
    if max_value is None:
        max_value = d.detach().max()
    tiny = torch.finfo(d.dtype).tiny
    max_value = torch.as_tensor(max_value, dtype=d.dtype, device=d.device)
    max_value = max_value.clamp_min(tiny)
    return d / max_value.reshape(max_value.shape +
                                 (1, ) * (d.ndim - max_value.ndim))


def _zero_diagonal(d: Tensor) -> Tensor:
    """``d`` (``... x N x N``) with its diagonal set to exactly 0."""
    eye = torch.eye(d.shape[-1], dtype=torch.bool, device=d.device)
    return d.masked_fill(eye, 0)


def _distances(f: Tensor) -> Tuple[Tensor, Optional[Tensor]]:
    """Squared distances between the rows of each ``N x D`` matrix of ``f``
    (``... x N x D``), and the default normaliser of each graph.

    Distances come from the Gram matrix of the centred rows (memory
    ``N x N``, not ``N x N x D``); the diagonal is exactly 0. The
    normaliser is the graph's maximum, detached, and at least
    ``eps * max_i ||f_i||^2`` (``eps`` of the dtype): rows equal up to
    rounding do not blow the noise up to order 1. None for an empty graph.
    """
    norms = (f * f).sum(dim=-1)
    c = f - f.mean(dim=-2, keepdim=True)
    sq = (c * c).sum(dim=-1)
    d = _zero_diagonal((sq[..., :, None] + sq[..., None, :] -
                        2 * c @ c.transpose(-1, -2)).clamp_min(0))
    if d.numel() == 0:
        return d, None
    floor = torch.finfo(d.dtype).eps * norms.detach().amax(dim=-1)
    return d, torch.maximum(d.detach().amax(dim=(-2, -1)), floor)


def _reduce(sq: Tensor, reduction: str) -> Tensor:
    """'mean' over entries, or the Caffe EuclideanLoss ``sum / (2B)``."""
    if reduction == 'mean':
        return sq.mean()
    return sq.sum() / (2 * sq.shape[0])


def irg_edge_matrix(x: Tensor,
                    pool: str = 'avg',
                    max_value: Optional[Tensor] = None) -> Tensor:
    r"""Normalised graph :math:`A(i,j) = \lVert f_i - f_j\rVert^2 / \max A`.

    Distances come from the Gram matrix of the batch-centred vectors
    (memory ``B x B``, not ``B x B x D``); the diagonal is exactly 0.
    ``max_value`` (default: the batch maximum, detached) is the normaliser,
    a constant in backward. The default is at least
    ``eps * max_i ||f_i||^2`` (``eps`` of the dtype): when every sample is
    the same vector up to rounding, the rounding noise is not blown up to
    order 1; an all-zero graph (batch 1, all-zero vectors) stays all-zero.

    Args:
        x (Tensor): ``B x C x H x W`` or ``B x D``.
        pool (str): ``'avg'`` or ``'flatten'`` (see :func:`irg_embed`).
        max_value (Tensor, optional): Normaliser to use instead.

    Returns:
        Tensor: ``B x B``.
    """
    d, top = _distances(irg_embed(x, pool))
    return _normalise(d, top if max_value is None else max_value)


def irg_transformation_vector(first: Tensor,
                              second: Tensor,
                              pool: str = 'avg',
                              max_value: Optional[Tensor] = None) -> Tensor:
    r"""Normalised :math:`\Lambda(i) = \lVert f_{l_1}(x_i) - f_{l_2}(x_i)
    \rVert^2 / \max \Lambda`, shape ``B``.

    ``first`` and ``second`` are two layers of one network with equal
    per-sample vector sizes (equal channels for ``pool='avg'``, equal
    ``C x H x W`` for ``'flatten'``). ``max_value`` as in
    :func:`irg_edge_matrix`.
    """
    a = irg_embed(first, pool, 'first layer')
    b = irg_embed(second, pool, 'second layer')
    if a.shape != b.shape:
        raise ValueError(
            f'IRG transformation compares two layers of one network with '
            f'equal sizes, got {tuple(first.shape)} and '
            f'{tuple(second.shape)} (per-sample vectors {tuple(a.shape)} and '
            f'{tuple(b.shape)}, pool={pool!r}); pick two layers with equal '
            f'channel counts, e.g. the first and last block of one stage')
    return _normalise((a - b).pow(2).sum(dim=1), max_value)


def _check_batch(s: Tensor, t: Tensor) -> None:
    if s.shape[0] != t.shape[0]:
        raise ValueError(
            f'student {tuple(s.shape)} and teacher {tuple(t.shape)} differ '
            f'in batch size; feed both networks the same images')


def irg_vertex_loss(student: Tensor,
                    teacher: Tensor,
                    per_pixel: bool = False,
                    reduction: str = 'mean') -> Tensor:
    r"""IRG vertex term :math:`\lVert f_T(x_i) - f_S(x_i)\rVert^2` on logits.

    Classification logits ``B x K``: squared distance per sample, mean over
    the batch. Segmentation logits ``B x K x H x W``: by default the class
    logits are average-pooled over the image (one ``K``-vector per image,
    spatial sizes may differ); ``per_pixel=True`` takes the squared
    distance at each pixel (equal ``H x W`` needed) and averages over
    ``B*H*W``. ``reduction='caffe'`` is the authors' EuclideanLoss,
    ``sum / (2B)`` over all entries.

    Raises:
        ValueError: Different batch sizes, class counts or (per pixel)
            spatial sizes.
    """
    _check_choice('reduction', reduction, _REDUCTIONS)
    s, t = _float(student, 'student'), _float(teacher, 'teacher')
    _check_batch(s, t)
    if s.ndim not in (2, 4) or t.ndim not in (2, 4):
        raise ValueError(
            f'IRG vertex takes logits B x K or B x K x H x W, got student '
            f'{tuple(s.shape)} and teacher {tuple(t.shape)}')
    if s.shape[1] != t.shape[1]:
        raise ValueError(
            f'student {tuple(s.shape)} and teacher {tuple(t.shape)} differ '
            f'in the number of classes; distill logits of the same classes')
    if per_pixel:
        if s.ndim != 4 or s.shape != t.shape:
            raise ValueError(
                f'per_pixel=True needs B x K x H x W logits of one size, got '
                f'student {tuple(s.shape)} and teacher {tuple(t.shape)}; add '
                f"student_transforms=[dict(type='Resize')] or use "
                f'per_pixel=False')
        sq = (t - s).pow(2).sum(dim=1)  # B x H x W
    else:
        sq = (irg_embed(t) - irg_embed(s)).pow(2).sum(dim=1)  # B
    return _reduce(sq, reduction)


def irg_edge_loss(student: Tensor,
                  teacher: Tensor,
                  pool: str = 'avg',
                  reduction: str = 'mean') -> Tensor:
    r"""IRG edge term :math:`\lVert A^T - A^S\rVert^2`.

    :math:`A` is :func:`irg_edge_matrix` of each side (``B x B``, divided
    by its batch maximum, detached). ``reduction='mean'`` averages over the
    :math:`B^2` entries; ``'caffe'`` is the authors' ``sum / (2B)``. Student
    and teacher may differ in channels and size. Batch 1: exactly 0.
    """
    _check_choice('reduction', reduction, _REDUCTIONS)
    s = irg_embed(student, pool, 'student')
    t = irg_embed(teacher, pool, 'teacher')
    _check_batch(student, teacher)
    diff = irg_edge_matrix(t) - irg_edge_matrix(s)
    return _reduce(diff.pow(2), reduction)


def _two(x, side: str) -> Tuple[Tensor, Tensor]:
    if not isinstance(x, (tuple, list)) or len(x) != 2:
        what = (f'{len(x)} features' if isinstance(x, (tuple, list)) else
                'one tensor')
        raise ValueError(
            f'IRG transformation takes two {side} features (two layers of '
            f'one network), got {what}; list two specs for the {side}')
    return x[0], x[1]


def irg_transformation_loss(student: Sequence[Tensor],
                            teacher: Sequence[Tensor],
                            pool: str = 'avg',
                            reduction: str = 'mean') -> Tensor:
    r"""IRG transformation term :math:`\lVert \Lambda^T - \Lambda^S\rVert^2`.

    ``student = (s_1, s_2)`` and ``teacher = (t_1, t_2)``: two layers per
    side; :math:`\Lambda` is :func:`irg_transformation_vector` (``B``,
    divided by its batch maximum, detached). ``'mean'`` averages over the
    ``B`` samples, ``'caffe'`` is ``sum / (2B)``. Batch 1: exactly 0.
    """
    _check_choice('reduction', reduction, _REDUCTIONS)
    s1, s2 = _two(student, 'student')
    t1, t2 = _two(teacher, 'teacher')
    lam_t = irg_transformation_vector(t1, t2, pool)
    lam_s = irg_transformation_vector(s1, s2, pool)
    _check_batch(s1, t1)
    diff = lam_t - lam_s
    return _reduce(diff.pow(2), reduction)


def _cosine_distances(f: Tensor) -> Tensor:
    """``1 - cos`` between the rows of each ``N x D`` matrix of ``f``, in
    ``[0, 2]``, diagonal exactly 0. A zero row is at distance 1 from every
    other row (``F.normalize``'s floor keeps its gradient finite)."""
    u = F.normalize(f, dim=-1, eps=1e-12)
    return _zero_diagonal((1 - u @ u.transpose(-1, -2)).clamp(0, 2))


def irg_position_edge_matrix(x: Tensor, distance: str = 'squared') -> Tensor:
    r"""Per-image graphs over positions, ``B x N x N`` (``N = H*W``).

    The segmentation reading of the edge graph with each *position* of one
    image as an instance. ``distance='squared'`` (IRG's):
    :math:`A_b(p,q) = \lVert x_b[:,p] - x_b[:,q] \rVert^2 / \max_{p,q}
    A_b`, the maximum per image and detached (with the floor of
    :func:`irg_edge_matrix`, so a constant map gives an all-zero graph, not
    rounding noise blown up). ``distance='cosine'``: :math:`A_b(p,q) = 1 -
    \cos(x_b[:,p], x_b[:,q])`, already scale-free and bounded, so not
    divided by a maximum: an image whose positions all point one way (one
    region) keeps a near-zero graph instead of its small differences blown
    up to order 1.

    Args:
        x (Tensor): ``B x C x H x W``.
        distance (str): ``'squared'`` (default) or ``'cosine'``.

    Returns:
        Tensor: ``B x N x N``, diagonal exactly 0.
    """
    _check_choice('distance', distance, _DISTANCES)
    x = _float(x, 'feature')
    if x.ndim != 4:
        raise ValueError(f'the position graph takes B x C x H x W maps, got '
                         f'shape {tuple(x.shape)}')
    f = x.flatten(2).transpose(1, 2)  # B x N x C
    if distance == 'cosine':
        return _cosine_distances(f)
    d, top = _distances(f)  # B x N x N, B
    return _normalise(d, top)


def irg_position_edge_loss(student: Tensor,
                           teacher: Tensor,
                           reduction: str = 'mean',
                           distance: str = 'squared') -> Tensor:
    r"""Edge term over the positions of each image,
    :math:`\frac{1}{B}\sum_b \lVert A^T_b - A^S_b\rVert^2`.

    :math:`A_b` is :func:`irg_position_edge_matrix` with ``distance``
    (``'squared'``, normalised per image, or ``'cosine'``). ``'mean'``
    averages over the ``B*N*N`` entries; ``'caffe'`` is ``sum / (2B)``.
    Channels may differ; the maps need one ``H x W``. A one-position map
    gives 0.

    Raises:
        ValueError: Different batch sizes, not 4-D, different ``H x W``, or
            an unknown ``reduction`` / ``distance``.
    """
    _check_choice('reduction', reduction, _REDUCTIONS)
    _check_batch(student, teacher)
    if student.ndim != 4 or teacher.ndim != 4 or \
            student.shape[2:] != teacher.shape[2:]:
        raise ValueError(
            f'the position graph needs B x C x H x W maps of one H x W, got '
            f'student {tuple(student.shape)} and teacher '
            f'{tuple(teacher.shape)}; add '
            f"student_transforms=[dict(type='Resize')]")
    diff = irg_position_edge_matrix(teacher, distance) - \
        irg_position_edge_matrix(student, distance)
    return _reduce(diff.pow(2), reduction)
