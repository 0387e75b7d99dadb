"""Dual-level KD (DLKD): Ding et al., "Dual-Level Knowledge Distillation via
Knowledge Alignment and Correlation", IEEE TNNLS 2022.

Both terms work on per-sample embeddings ``B x D``: for segmentation the
globally average-pooled feature map of each image of the batch (add
``dict(type='GlobalAvgPool')`` to the item's transforms), one sample per
image, or pooled region embeddings (``dict(type='RegionAvgPool',
grid=g)``: ``g * g`` samples per image). With several processes the
correlation term is computed over the global batch (see
:mod:`mmkd.models.losses.dist_utils`).
"""
import torch
import torch.nn.functional as F
from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillContext, DistillLoss
from .dist_utils import compensate_ddp_average, gather_with_grad
from .utils import check_positive

__all__ = ['dlkd_align_loss', 'dlkd_corr_loss', 'DLKDLoss']

_PROJECTOR_FIX = "student_transforms=[dict(type='MLPProjector')]"


def _embedding(x: Tensor, side: str) -> Tensor:
    """``B x D`` float32-or-wider view of a per-sample embedding.

    ``B x D x 1 x 1`` (a pooled map) is accepted and flattened; any other
    4-D map fails, naming the pooling transform to add.
    """
    if not isinstance(x, Tensor):
        raise ValueError(
            f'DLKD takes one tensor per side, got {type(x).__name__} for the '
            f'{side}; give the item a single {side} spec')
    if not x.is_floating_point():
        raise ValueError(f'{side} must be floating point, got {x.dtype}')
    if x.ndim == 4 and x.shape[2] * x.shape[3] == 1:
        x = x.flatten(1)
    if x.ndim != 2:
        raise ValueError(
            f'DLKD works on per-sample embeddings B x D, the {side} has '
            f'shape {tuple(x.shape)}; add dict(type=\'GlobalAvgPool\') '
            f"(one per image) or dict(type='RegionAvgPool', grid=g) (g*g "
            f"regions per image) to the item's {side}_transforms")
    return x.to(torch.promote_types(x.dtype, torch.float32))


def _pair(student: Tensor, teacher: Tensor):
    s, t = _embedding(student, 'student'), _embedding(teacher, 'teacher')
    if s.shape[0] != t.shape[0]:
        raise ValueError(
            f'student {tuple(s.shape)} and teacher {tuple(t.shape)} differ '
            f'in batch size; feed both networks the same images')
    return s, t


def dlkd_align_loss(student: Tensor, teacher: Tensor) -> Tensor:
    r"""DLKD alignment: cosine alignment of per-sample embeddings.

    .. math::

        L_{align} = 2 - \frac{2}{B} \sum_i \cos(p(z_i^S), z_i^T)

    where :math:`p` is the student's projector (an ``MLPProjector``
    transform, Linear-BN-ReLU-Linear to the teacher's dimension), applied
    before this function. Equals :math:`\frac1B\sum_i\lVert \hat s_i -
    \hat t_i\rVert^2` for the L2-normalised embeddings; in ``[0, 4]``. A
    zero embedding has cosine 0 with anything.

    Args:
        student (Tensor): Projected student embeddings ``B x D`` (or
            ``B x D x 1 x 1``).
        teacher (Tensor): Teacher embeddings ``B x D``.

    Returns:
        Tensor: Scalar, float32 or wider.

    Raises:
        ValueError: Not ``B x D``, different batch sizes or dims (the fix:
            a projector on the student).
    """
    s, t = _pair(student, teacher)
    if s.shape[1] != t.shape[1]:
        raise ValueError(
            f'DLKD alignment needs equal embedding dims, got student '
            f'{s.shape[1]} and teacher {t.shape[1]}; project the student '
            f'with {_PROJECTOR_FIX} (after the GlobalAvgPool)')
    cos = (F.normalize(s, dim=1) * F.normalize(t, dim=1)).sum(dim=1)
    return 2 - 2 * cos.mean()


def dlkd_corr_loss(student: Tensor,
                   teacher: Tensor,
                   tau: float = 0.5,
                   diagonal: bool = False) -> Tensor:
    r"""DLKD correlation: KL between sample-similarity distributions.

    With :math:`\hat z` the L2-normalised embeddings, the cosine-similarity
    matrices among the batch's samples are
    :math:`M^S = \hat Z^S \hat Z^{S\top}` and :math:`M^T` likewise
    (``B x B``; the two sides' dims may differ). Each row becomes a
    distribution with a softmax at temperature :math:`\tau`, and

    .. math::

        L_{corr} = \frac1B \sum_i \mathrm{KL}\big(
            \mathrm{softmax}(M^T_i/\tau) \,\Vert\,
            \mathrm{softmax}(M^S_i/\tau)\big).

    The diagonal (each sample's similarity to itself, 1 on both sides)
    carries no information: with ``diagonal=False`` (default) it is left
    out of each row, which then has ``B - 1`` entries. A batch of one has
    no off-diagonal entry: the loss is then exactly 0 (still connected to
    the graph, with zero gradient). With ``diagonal=True`` and ``B = 1``
    both rows are ``[1]`` and the loss is 0 as well.

    Args:
        student (Tensor): Student embeddings ``B x D'`` (after its
            projector).
        teacher (Tensor): Teacher embeddings ``B x D``.
        tau (float): Softmax temperature; 0.5 in the authors' code.
        diagonal (bool): Keep the diagonal in each row. Default False.

    Returns:
        Tensor: Scalar, float32 or wider.

    Raises:
        ValueError: Not ``B x D``, different batch sizes, bad ``tau``.
    """
    check_positive('tau', tau, 'the softmax temperature; 0.5 in the '
                   "authors' code")
    s, t = _pair(student, teacher)
    b = s.shape[0]
    if b == 1 and not diagonal:
        return s.flatten()[:0].sum()  # exactly 0, zero gradient
    sim_s = F.normalize(s, dim=1) @ F.normalize(s, dim=1).t() / tau
    sim_t = F.normalize(t, dim=1) @ F.normalize(t, dim=1).t() / tau
    if not diagonal:
        off = ~torch.eye(b, dtype=torch.bool, device=s.device)
        sim_s = sim_s[off].view(b, b - 1)
        sim_t = sim_t[off].view(b, b - 1)
    log_p_s = F.log_softmax(sim_s, dim=1)
    log_p_t = F.log_softmax(sim_t.to(log_p_s.dtype), dim=1)
    return F.kl_div(log_p_s, log_p_t, reduction='batchmean',
                    log_target=True)


def _check_weight(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            value < 0:
        raise ValueError(f'DLKDLoss: {name}={value!r} must be a number >= 0')
    return float(value)


@MODELS.register_module()
class DLKDLoss(DistillLoss):
    """DLKD loss: ``align_weight * L_align + corr_weight * L_corr``.

    See :func:`dlkd_align_loss` and :func:`dlkd_corr_loss` (Ding et al.,
    TNNLS 2022). Inputs are per-sample embeddings ``B x D`` (for
    segmentation: ``dict(type='GlobalAvgPool')`` in both transform lists,
    then ``dict(type='MLPProjector')`` on the student). The paper's two
    projectors (one per term) are two distill items, each with its own
    ``MLPProjector`` and one of the weights set to 0.

    Alignment needs equal dims (checked at build time when
    ``align_weight > 0``); correlation compares ``B x B`` matrices, so the
    dims may differ (``requires_equal_channels`` is False for every
    instance; the check lives in :meth:`setup`, naming the projector).

    With ``gather=True`` (default) and several processes, the correlation
    term is computed over the global batch (embeddings all-gathered, the
    gradient kept for the local ones); its value is the global-batch loss
    and its gradient is scaled so that DDP's average equals the
    single-process gradient (see :mod:`~mmkd.models.losses.dist_utils`).
    The alignment term is a per-sample mean on each rank.

    The authors' optional supervised-contrastive term (tau 0.07) is not
    implemented: it needs one label per sample, which segmentation lacks.
    ``supcon_weight`` must stay 0.

    Args:
        align_weight (float): Weight of the alignment term (authors:
            ImageNet 10, CIFAR 20).
        corr_weight (float): Weight of the correlation term (authors:
            ImageNet 20, CIFAR 50).
        tau (float): Correlation softmax temperature. Default 0.5.
        diagonal (bool): Keep the diagonal in the correlation rows.
            Default False.
        gather (bool): Compute the correlation over all processes' samples.
            Default True.
        supcon_weight (float): Not implemented; must be 0.
        loss_weight (float): Multiplier of the sum. Default 1.0.
    """

    requires_equal_channels = False
    accepts_multiple = False
    min_batch = 1

    def __init__(self,
                 align_weight: float,
                 corr_weight: float,
                 tau: float = 0.5,
                 diagonal: bool = False,
                 gather: bool = True,
                 supcon_weight: float = 0.0,
                 loss_weight: float = 1.0) -> None:
        super().__init__(loss_weight=loss_weight)
        self.align_weight = _check_weight('align_weight', align_weight)
        self.corr_weight = _check_weight('corr_weight', corr_weight)
        if self.align_weight == 0 and self.corr_weight == 0:
            raise ValueError(
                'DLKDLoss: align_weight and corr_weight are both 0; set at '
                'least one (authors, ImageNet: align 10, corr 20)')
        if supcon_weight != 0:
            raise ValueError(
                f'DLKDLoss: supcon_weight={supcon_weight!r}: the authors\' '
                f'supervised-contrastive term is not implemented in mmkd '
                f'(it needs per-sample labels); leave supcon_weight=0')
        check_positive('tau', tau, "the softmax temperature; 0.5 in the "
                       "authors' code")
        self.tau = float(tau)
        self.diagonal = bool(diagonal)
        self.gather = bool(gather)

    def setup(self, context: DistillContext) -> None:
        """Check at build time: embeddings, and equal dims for alignment."""
        for side, shapes in (('student', context.student_shapes),
                             ('teacher', context.teacher_shapes)):
            if len(shapes) != 1:
                raise ValueError(
                    f'{context.name}: DLKDLoss takes one {side} feature, the '
                    f'item gives {len(shapes)}; list one spec per side')
            shape = tuple(shapes[0])
            if not (len(shape) == 2 or
                    (len(shape) == 4 and shape[2] * shape[3] == 1)):
                raise ValueError(
                    f'{context.name}: DLKD works on per-sample embeddings '
                    f'B x D, the {side} feature is {shape}; add '
                    f"dict(type='GlobalAvgPool') to the item's "
                    f'{side}_transforms')
        ds, dt = context.student_shapes[0][1], context.teacher_shapes[0][1]
        if self.align_weight > 0 and ds != dt:
            raise ValueError(
                f'{context.name}: DLKD alignment (align_weight='
                f'{self.align_weight:g}) needs equal embedding dims, got '
                f'student {ds} and teacher {dt}; add {_PROJECTOR_FIX} after '
                f'the GlobalAvgPool')

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        terms = []
        if self.align_weight > 0:
            terms.append(self.align_weight * dlkd_align_loss(student, teacher))
        if self.corr_weight > 0:
            s, t = _pair(student, teacher)
            if self.gather:
                s, t = gather_with_grad(s), gather_with_grad(t)
            corr = dlkd_corr_loss(s, t, self.tau, self.diagonal)
            if self.gather:
                corr = compensate_ddp_average(corr)
            terms.append(self.corr_weight * corr)
        return sum(terms[1:], terms[0])

    def extra_repr(self) -> str:
        return (f'align_weight={self.align_weight:g}, corr_weight='
                f'{self.corr_weight:g}, tau={self.tau:g}, diagonal='
                f'{self.diagonal}, gather={self.gather}, '
                f'{super().extra_repr()}')
