"""Base class of every registered distillation loss.

A loss in mmkd is a pure function (formula, paper and shapes in its
docstring) plus a thin module on :class:`DistillLoss`. The base owns what
every loss shares:

* ``loss_weight``, applied to what :meth:`DistillLoss.compute` returns;
* traits as class attributes, read by the distiller (no ``getattr``
  defaults scattered around the engine);
* one keyword-argument policy: ``forward(student, teacher, **kwargs)``
  accepts exactly the keywords the traits declare (``target`` when
  ``requires_target``, ``valid_mask`` when the loss uses it) and fails on
  anything else, naming what it accepts;
* an optional :meth:`DistillLoss.setup` called once at build time with a
  :class:`DistillContext` (probed shapes, student and teacher modules), so
  a loss can size its own parameters or read the teacher's weights;
* parameters and buffers of a loss train with the student and are saved
  in checkpoints; export leaves them out (only ``student.*`` is exported).
"""
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Features = Union[Tensor, Tuple[Tensor, ...]]


@dataclass
class DistillContext:
    """What a loss's :meth:`DistillLoss.setup` sees at build time.

    Attributes:
        name (str): The distill item's name (``loss_…``).
        student_shapes (tuple[torch.Size]): Shapes of the student features
            the loss receives (after the student transforms), one per spec,
            probed on the build-time dummy input.
        teacher_shapes (tuple[torch.Size]): Same for the teacher.
        student_raw_shapes (tuple[torch.Size]): Student shapes as recorded,
            before transforms.
        teacher_raw_shapes (tuple[torch.Size]): Same for the teacher.
        student_specs (tuple): The student :class:`FeatureSpec` s.
        teacher_specs (tuple): The teacher :class:`FeatureSpec` s.
        student (nn.Module): The student model.
        teacher (nn.Module): The (frozen) teacher model.
        student_modules (tuple[nn.Module]): The hooked student modules, one
            per spec (e.g. to read a BN's affine parameters).
        teacher_modules (tuple[nn.Module]): Same for the teacher.
    """
    name: str
    student_shapes: Tuple[torch.Size, ...]
    teacher_shapes: Tuple[torch.Size, ...]
    student_raw_shapes: Tuple[torch.Size, ...] = ()
    teacher_raw_shapes: Tuple[torch.Size, ...] = ()
    student_specs: Tuple[Any, ...] = ()
    teacher_specs: Tuple[Any, ...] = ()
    student: Optional[nn.Module] = None
    teacher: Optional[nn.Module] = None
    student_modules: Tuple[nn.Module, ...] = ()
    teacher_modules: Tuple[nn.Module, ...] = ()
    extra: Dict[str, Any] = field(default_factory=dict)


class DistillLoss(nn.Module):
    """Base of mmkd's distillation losses.

    Subclasses implement :meth:`compute` (without the weight) and set the
    traits they need. ``forward`` checks the keywords, calls ``compute``
    and multiplies by ``loss_weight``.

    Traits (class attributes, overridable per instance):
        requires_target (bool): The loss needs the labels: the distiller
            passes ``target=`` (segmentation: ``B x H x W`` long labels;
            classification: ``B`` long labels).
        uses_valid_mask (bool): The loss takes ``valid_mask=`` (``B x H x
            W`` bool at label resolution: False at ``ignore_index`` and
            padded pixels). Set per instance by ``mask_invalid=True`` for
            losses that support it.
        supports_valid_mask (bool): Whether ``mask_invalid=True`` is
            allowed at all.
        masks_in_compute (bool): How ``valid_mask`` is applied. False (the
            default): ``forward`` zeroes the masked pixels of both maps
            (:func:`mask_features`), which leaves them out of every sum
            over pixels (Grams, attention maps). True: ``compute`` gets
            ``valid_mask=`` and leaves the pixels out itself, for losses
            where a zero is not the same as no pixel (a softmax over
            positions, a mean over pixels).
        requires_equal_channels (bool): Student and teacher tensors must
            have the same channel count (dim 1); the distiller checks it at
            build time and asks for a connector.
        requires_equal_size (bool): 4-D student and teacher maps must have
            the same ``H x W``; the distiller checks it at build time and
            asks for a ``Resize``. Losses that pool per sample (relation
            losses) set it to False.
        accepts_multiple (bool): The loss takes tuples of tensors (several
            features per side), e.g. IRG's transformation term.
        min_batch (int): Smallest batch the loss is defined on (relation
            losses need 2); the distiller checks it.

    Args:
        loss_weight (float): Multiplier of the loss. Defaults to 1.0.
        mask_invalid (bool): Leave ``ignore_index`` and padded pixels out
            of a feature loss through ``valid_mask``. Only for losses with
            ``supports_valid_mask``. Defaults to False.
    """

    requires_target: bool = False
    uses_valid_mask: bool = False
    supports_valid_mask: bool = False
    masks_in_compute: bool = False
    requires_equal_channels: bool = True
    requires_equal_size: bool = True
    accepts_multiple: bool = False
    min_batch: int = 1

    def __init__(self, loss_weight: float = 1.0, mask_invalid: bool = False):
        super().__init__()
        if isinstance(loss_weight, bool) or not isinstance(
                loss_weight, (int, float)):
            raise ValueError(f'{type(self).__name__}: loss_weight must be a '
                             f'number, got {loss_weight!r}')
        self.loss_weight = float(loss_weight)
        if mask_invalid:
            if not self.supports_valid_mask:
                raise ValueError(
                    f'{type(self).__name__} does not support '
                    f'mask_invalid=True (it has no per-pixel form); drop '
                    f'the option')
            self.uses_valid_mask = True

    # ------------------------------------------------------------------
    def accepted_kwargs(self) -> Tuple[str, ...]:
        """Keyword arguments ``forward`` accepts, from the traits."""
        names = []
        if self.requires_target:
            names.append('target')
        if self.uses_valid_mask:
            names.append('valid_mask')
        return tuple(names)

    def check_kwargs(self, kwargs: dict) -> None:
        """Fail on keywords the traits do not declare (one policy)."""
        unexpected = sorted(set(kwargs) - set(self.accepted_kwargs()))
        if unexpected:
            accepted = ', '.join(('student', 'teacher') +
                                 self.accepted_kwargs())
            raise TypeError(
                f'{type(self).__name__}.forward() got unexpected keyword '
                f'arguments {unexpected}; it accepts ({accepted})')

    def setup(self, context: DistillContext) -> None:
        """Called once when the distiller is built; a no-op by default.

        Override to size parameters from ``context.student_shapes`` /
        ``context.teacher_shapes`` or to read the teacher's modules. Also
        the place to reject shapes the loss cannot handle.
        """

    def compute(self, student: Features, teacher: Features,
                **kwargs) -> Tensor:
        """The unweighted loss; subclasses implement it."""
        raise NotImplementedError

    def forward(self, student: Features, teacher: Features,
                **kwargs) -> Tensor:
        """``loss_weight * compute(student, teacher, ...)``.

        Keywords are checked by :meth:`check_kwargs`; with
        ``mask_invalid=True`` ``valid_mask=`` is required and is applied
        as ``masks_in_compute`` says.
        """
        self.check_kwargs(kwargs)
        if self.uses_valid_mask:
            if kwargs.get('valid_mask') is None:
                raise TypeError(
                    f'{type(self).__name__} was built with '
                    f'mask_invalid=True: pass valid_mask= (B x H x W bool, '
                    f'False at ignored pixels)')
            check_valid_mask(kwargs['valid_mask'], student)
            if not self.masks_in_compute:
                student, teacher = mask_features(student, teacher,
                                                 kwargs.pop('valid_mask'))
        return self.loss_weight * self.compute(student, teacher, **kwargs)

    def extra_repr(self) -> str:
        return f'loss_weight={self.loss_weight}'


def check_valid_mask(valid_mask: Tensor, features: Features) -> None:
    """Check that ``valid_mask`` is a ``B x H x W`` bool tensor whose
    batch size matches ``features`` (a tensor or a tuple of them)."""
    if not isinstance(valid_mask, Tensor) or valid_mask.dtype != torch.bool \
            or valid_mask.ndim != 3:
        what = (f'{valid_mask.dtype} tensor of shape '
                f'{tuple(valid_mask.shape)}' if isinstance(
                    valid_mask, Tensor) else type(valid_mask).__name__)
        raise ValueError(
            f'valid_mask must be a B x H x W bool tensor (False at ignored '
            f'pixels), got a {what}; build it as labels != ignore_index')
    first = features[0] if isinstance(features, (tuple, list)) else features
    if valid_mask.shape[0] != first.shape[0]:
        raise ValueError(
            f'valid_mask has batch size {valid_mask.shape[0]} but the '
            f'features have {first.shape[0]}; pass the mask of the same '
            f'images')


def resize_mask(valid_mask: Tensor, size: Sequence[int]) -> Tensor:
    """Nearest-resize a ``B x H x W`` bool mask to ``size`` (``h, w``)."""
    if tuple(valid_mask.shape[-2:]) == tuple(size):
        return valid_mask
    return F.interpolate(
        valid_mask[:, None].float(), size=tuple(size),
        mode='nearest')[:, 0] > 0.5


def mask_features(student: Features, teacher: Features,
                  valid_mask: Tensor) -> Tuple[Features, Features]:
    """Zero the pixels of 4-D features where ``valid_mask`` is False.

    The mask (``B x H x W``, label resolution) is resized to each feature
    map with nearest interpolation. Masked pixels then contribute nothing
    to sums over pixels (Gram matrices, squared errors) in student and
    teacher alike.
    """

    def apply(x):
        if isinstance(x, (tuple, list)):
            return type(x)(apply(v) for v in x)
        if x.ndim != 4:
            raise ValueError(
                f'valid_mask applies to B x C x H x W feature maps, got '
                f'shape {tuple(x.shape)}; drop mask_invalid for this item')
        mask = resize_mask(valid_mask.to(x.device), x.shape[-2:])
        return x * mask[:, None].to(x.dtype)

    return apply(student), apply(teacher)
