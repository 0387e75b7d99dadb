"""Instance relationship graph (IRG): Liu et al., "Knowledge Distillation
via Instance Relationship Graph", CVPR 2019.

Three terms on per-sample vectors ``f(x_i)`` (the global-average-pooled
feature map by default, as in the authors' code; ``pool='flatten'`` uses
the flattened map):

* vertex: the logits themselves, :func:`irg_vertex_loss`;
* edge: the batch's ``B x B`` squared-distance graph, :func:`irg_edge_loss`;
* transformation: how far each sample moves between two layers of one
  network, :func:`irg_transformation_loss`.

Graphs are normalised by their batch maximum, held constant in backward
(detached). With several processes the edge and transformation terms are
computed over the global batch (:mod:`mmkd.models.losses.dist_utils`).
The pure functions live in :mod:`mmkd.models.losses.irg_ops` and are
re-exported here.
"""
from typing import Sequence, Union

from torch import Tensor

from mmkd.registry import MODELS
from .base import DistillContext, DistillLoss
from .dist_utils import compensate_ddp_average, gather_with_grad
from .irg_ops import (_DISTANCES, _POOLS, _REDUCTIONS, _check_choice, _two,
                      irg_edge_loss, irg_edge_matrix, irg_embed,
                      irg_position_edge_loss, irg_position_edge_matrix,
                      irg_transformation_loss, irg_transformation_vector,
                      irg_vertex_loss)

__all__ = [
    'irg_embed', 'irg_edge_matrix', 'irg_transformation_vector',
    'irg_vertex_loss', 'irg_edge_loss', 'irg_transformation_loss',
    'irg_position_edge_matrix', 'irg_position_edge_loss', 'IRGVertexLoss',
    'IRGEdgeLoss', 'IRGPositionEdgeLoss', 'IRGTransformationLoss'
]


class _IRGBase(DistillLoss):
    requires_equal_channels = False
    # every term pools (or flattens) per sample before comparing samples
    requires_equal_size = False
    min_batch = 1

    def __init__(self, reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__(loss_weight=loss_weight)
        _check_choice('reduction', reduction, _REDUCTIONS)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f'reduction={self.reduction!r}, {super().extra_repr()}'


@MODELS.register_module()
class IRGVertexLoss(_IRGBase):
    """IRG vertex term on logits; see :func:`irg_vertex_loss`.

    For segmentation the default compares the image-pooled class logits
    (``per_pixel=False``); ``per_pixel=True`` compares every pixel's
    logits. Student and teacher need the same class count.

    Args:
        per_pixel (bool): Per-pixel instead of pooled logits. Default False.
        reduction (str): ``'mean'`` (default) or ``'caffe'`` (sum / 2B).
        loss_weight (float): Multiplier. The authors: 0.005 with 'caffe'.
    """

    requires_equal_channels = True

    def __init__(self, per_pixel: bool = False, reduction: str = 'mean',
                 loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)
        self.per_pixel = bool(per_pixel)

    def setup(self, context: DistillContext) -> None:
        s, t = context.student_shapes[0], context.teacher_shapes[0]
        if self.per_pixel and tuple(s) != tuple(t):
            raise ValueError(
                f'{context.name}: per_pixel=True needs logits of one size, '
                f'got student {tuple(s)} and teacher {tuple(t)}; add '
                f"student_transforms=[dict(type='Resize')]")

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        return irg_vertex_loss(student, teacher, self.per_pixel,
                               self.reduction)


def _gather(x: Tensor, on: bool) -> Tensor:
    return gather_with_grad(x) if on else x


def _finish(loss: Tensor, on: bool) -> Tensor:
    return compensate_ddp_average(loss) if on else loss


class _IRGRelationBase(_IRGBase):
    """Shared options of the edge and transformation terms: pooling of the
    per-sample vectors and the gather over processes."""

    accepts_multiple = True
    # 0 on a global batch of one sample (the distiller warns)
    compares_samples = True

    def __init__(self, pool: str = 'avg', reduction: str = 'mean',
                 gather: bool = True, loss_weight: float = 1.0) -> None:
        super().__init__(reduction, loss_weight)
        _check_choice('pool', pool, _POOLS)
        self.pool = pool
        self.gather = bool(gather)

    def extra_repr(self) -> str:
        return (f'pool={self.pool!r}, gather={self.gather}, '
                f'{super().extra_repr()}')


@MODELS.register_module()
class IRGEdgeLoss(_IRGRelationBase):
    """IRG edge term; see :func:`irg_edge_loss`.

    Several student layers may be matched to the teacher's last layer: give
    the item a list of student specs and one teacher spec; the loss is the
    **sum** over the student layers (the paper sums its layer terms; divide
    ``loss_weight`` by their number for a mean). Lists of equal length on
    both sides are matched pairwise. With ``gather=True`` (default) and
    several processes the graph spans the global batch, its gradient
    scaled for DDP's average (:mod:`~mmkd.models.losses.dist_utils`).

    Args:
        pool (str): ``'avg'`` (default, authors' code) or ``'flatten'``.
        reduction (str): ``'mean'`` (default) or ``'caffe'`` (sum / 2B).
        gather (bool): Build the graph over all processes. Default True.
        loss_weight (float): Multiplier. The authors: 0.005 with 'caffe'.
    """

    def compute(self, student: Union[Tensor, Sequence[Tensor]],
                teacher: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        students = tuple(student) if isinstance(student, (tuple, list)) \
            else (student, )
        teachers = tuple(teacher) if isinstance(teacher, (tuple, list)) \
            else (teacher, )
        if len(teachers) not in (1, len(students)):
            raise ValueError(
                f'IRGEdgeLoss matches {len(students)} student features to '
                f'{len(teachers)} teacher features; give one teacher feature '
                f'or as many as student features')
        if len(teachers) == 1:
            teachers = teachers * len(students)
        gathered = {}

        def get(x, name):  # pool before the gather: B x D travels
            if id(x) not in gathered:
                gathered[id(x)] = _gather(
                    irg_embed(x, self.pool, name), self.gather)
            return gathered[id(x)]

        total = sum(
            irg_edge_loss(get(s, 'student'), get(t, 'teacher'),
                          reduction=self.reduction)
            for s, t in zip(students, teachers))
        return _finish(total, self.gather)


@MODELS.register_module()
class IRGPositionEdgeLoss(_IRGBase):
    """IRG edge term with the positions of one image as its instances; see
    :func:`irg_position_edge_loss`.

    A segmentation reading of the edge graph (the spec's instances are
    images; at a segmentation batch of 8 their graph has 28 distances):
    each image gives an ``N x N`` graph of squared distances between its
    ``N = H*W`` position vectors, divided by that image's largest distance
    (detached), or of cosine distances (``distance='cosine'``, not
    divided), and the student's graph is matched to the teacher's. The
    channels may differ (no connector); the maps need one ``H x W``
    (checked at build time). Per image, so nothing is gathered over
    processes.

    Args:
        reduction (str): ``'mean'`` (default, over ``B*N*N`` entries) or
            ``'caffe'`` (sum / 2B).
        distance (str): ``'squared'`` (default, IRG's squared distance over
            the image's maximum) or ``'cosine'`` (``1 - cos``, unnormalised;
            the pair-wise similarity of structured KD for segmentation).
        loss_weight (float): Multiplier.
    """

    def __init__(self,
                 reduction: str = 'mean',
                 distance: str = 'squared',
                 loss_weight: float = 1.0):
        super().__init__(reduction=reduction, loss_weight=loss_weight)
        _check_choice('distance', distance, _DISTANCES)
        self.distance = distance

    def extra_repr(self) -> str:
        return f'distance={self.distance!r}, {super().extra_repr()}'

    def setup(self, context: DistillContext) -> None:
        s, t = context.student_shapes[0], context.teacher_shapes[0]
        if len(s) != 4 or len(t) != 4 or tuple(s[2:]) != tuple(t[2:]):
            raise ValueError(
                f'{context.name}: IRGPositionEdgeLoss needs B x C x H x W '
                f'maps of one H x W, got student {tuple(s)} and teacher '
                f"{tuple(t)}; add student_transforms=[dict(type='Resize')]")

    def compute(self, student: Tensor, teacher: Tensor) -> Tensor:
        return irg_position_edge_loss(student, teacher, self.reduction,
                                      self.distance)


@MODELS.register_module()
class IRGTransformationLoss(_IRGRelationBase):
    """IRG transformation term; see :func:`irg_transformation_loss`.

    The item lists two specs per side, two layers of one network with
    equal channel counts (e.g. the first and last block of a stage); the
    student's and the teacher's channels may differ. Checked at build time.

    Args:
        pool (str): ``'avg'`` (default) or ``'flatten'``.
        reduction (str): ``'mean'`` (default) or ``'caffe'`` (sum / 2B).
        gather (bool): Compute over all processes' samples. Default True.
        loss_weight (float): Multiplier. The authors: 0.005 with 'caffe'.
    """

    def setup(self, context: DistillContext) -> None:
        for side, shapes in (('student', context.student_shapes),
                             ('teacher', context.teacher_shapes)):
            shapes = [tuple(s) for s in shapes]
            if len(shapes) != 2:
                raise ValueError(
                    f'{context.name}: IRGTransformationLoss takes two {side} '
                    f'features (two layers of one network), the item gives '
                    f'{len(shapes)}; list two {side} specs')
            a, b = shapes
            same = a[1:] == b[1:] if self.pool == 'flatten' else \
                a[1:2] == b[1:2]
            if not same:
                need = ('equal C x H x W' if self.pool == 'flatten' else
                        'equal channel counts')
                raise ValueError(
                    f'{context.name}: the two {side} layers have shapes {a} '
                    f'and {b}; IRG transformation needs {need} '
                    f'(pool={self.pool!r}); pick two layers of one stage, '
                    f'e.g. its first and last block')

    def compute(self, student: Sequence[Tensor],
                teacher: Sequence[Tensor]) -> Tensor:
        # pool before the gather: B x D travels
        s = [_gather(irg_embed(x, self.pool, 'student'), self.gather)
             for x in _two(student, 'student')]
        t = [_gather(irg_embed(x, self.pool, 'teacher'), self.gather)
             for x in _two(teacher, 'teacher')]
        loss = irg_transformation_loss(s, t, reduction=self.reduction)
        return _finish(loss, self.gather)
