"""One distillation term: features of both sides, their transforms, a loss.

An entry of a distiller's ``distill=[...]`` list (schema in
``docs/engine.md``)::

    dict(name='loss_ickd',
         student='decode_head.bottleneck',      # spec or list of specs
         teacher='decode_head.bottleneck',
         student_transforms=[dict(type='ConvBNConnector'),
                             dict(type='Resize')],
         teacher_transforms=[],
         loss=dict(type='ICKDLoss', grid_size=(4, 4), loss_weight=1e-4))
"""
import copy
import difflib
import inspect
import logging
from typing import List, Optional, Sequence, Tuple, Union

import torch
from mmengine import dist
from mmengine.logging import print_log
from torch import Tensor, nn

from mmkd.registry import MODELS
from ..losses.base import DistillLoss
from ..recorders import FeatureSpec

ITEM_KEYS = ('name', 'student', 'teacher', 'student_transforms',
             'teacher_transforms', 'loss')
REQUIRED_KEYS = ('name', 'student', 'teacher', 'loss')
#: Keys of the engine-v1 schema, with their replacement (for the message).
OLD_KEYS = dict(
    student_feature="student=",
    teacher_feature="teacher=",
    connector="student_transforms=[dict(type='ConvBNConnector'), ...]",
    resize="student_transforms=[..., dict(type='Resize', mode=...)]",
    align_corners="dict(type='Resize', align_corners=...)")

Features = Union[Tensor, Tuple[Tensor, ...]]


def _specs(value, side: str, name: str) -> Tuple[Tuple[FeatureSpec, ...],
                                                 bool]:
    """Parse one side's spec(s); returns (specs, given_as_list)."""
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f'distill item {name!r}: {side}= is an empty '
                             f'list; give a module name or a list of them')
        return tuple(FeatureSpec.parse(v) for v in value), True
    return (FeatureSpec.parse(value), ), False


class DistillItem(nn.Module):
    """A parsed distill item; owns its transforms and its loss.

    Args:
        cfg (dict): One entry of ``distill=[...]``.

    Attributes:
        name (str): Logged as ``distill.<name>``.
        student_specs, teacher_specs (tuple[FeatureSpec]): What to record.
        student_transforms, teacher_transforms (nn.ModuleList): One
            ``nn.ModuleList`` chain per feature, built by :meth:`build`.
        loss (DistillLoss): The loss, built by :meth:`build`.
    """

    def __init__(self, cfg: dict):
        super().__init__()
        cfg = dict(cfg)
        name = cfg.get('name', '<unnamed>')
        old = sorted(set(cfg) & set(OLD_KEYS))
        if old:
            raise ValueError(
                f'distill item {name!r} uses keys of the old schema: '
                + '; '.join(f'{k} -> {OLD_KEYS[k]}' for k in old)
                + ' (see "Writing a distillation config" in the README)')
        unknown = sorted(set(cfg) - set(ITEM_KEYS))
        missing = [k for k in REQUIRED_KEYS if k not in cfg]
        if unknown or missing:
            raise ValueError(
                f'distill item {name!r}: '
                + (f'unknown keys {unknown} ' if unknown else '')
                + (f'missing keys {missing} ' if missing else '')
                + f'(valid keys: {list(ITEM_KEYS)})')
        if not isinstance(name, str) or 'loss' not in name:
            raise ValueError(
                f"distill item name {name!r} must be a str containing "
                f"'loss' (e.g. 'loss_{name}'): mmengine only optimises "
                f"log keys that contain 'loss'")
        self.name = name
        self.student_specs, self.student_is_list = _specs(
            cfg['student'], 'student', name)
        self.teacher_specs, self.teacher_is_list = _specs(
            cfg['teacher'], 'teacher', name)
        self._cfg = copy.deepcopy(cfg)
        self.student_transforms = nn.ModuleList()
        self.teacher_transforms = nn.ModuleList()
        self.loss: Optional[DistillLoss] = None
        self._batch_checked = False

    # ------------------------------------------------------------------
    # build
    # ------------------------------------------------------------------
    def build(self, student_shapes: Sequence[torch.Size],
              teacher_shapes: Sequence[torch.Size], context_kwargs: dict):
        """Build transforms and loss from the probed raw shapes."""
        self.loss = self._build_loss()
        if not isinstance(self.loss, DistillLoss):
            raise TypeError(
                f'distill item {self.name!r}: loss '
                f'{type(self.loss).__name__} is not a DistillLoss; '
                f'subclass mmkd.models.losses.base.DistillLoss')
        if (self.student_is_list or self.teacher_is_list) and \
                not self.loss.accepts_multiple:
            raise ValueError(
                f'distill item {self.name!r}: '
                f'{type(self.loss).__name__} takes one feature per side, '
                f'but a list of specs was given; use one distill item per '
                f'feature pair')
        t_out = self._build_side('teacher', teacher_shapes, student_shapes)
        s_out = self._build_side('student', student_shapes, t_out)
        self._check_shapes(s_out, t_out)
        from ..losses.base import DistillContext
        self.loss.setup(
            DistillContext(
                name=self.name,
                student_shapes=tuple(s_out),
                teacher_shapes=tuple(t_out),
                student_raw_shapes=tuple(student_shapes),
                teacher_raw_shapes=tuple(teacher_shapes),
                student_specs=self.student_specs,
                teacher_specs=self.teacher_specs,
                **context_kwargs))
        return s_out, t_out

    def _build_loss(self) -> nn.Module:
        """Build the loss; an unknown type or option fails naming the
        valid ones (closest first)."""
        cfg = copy.deepcopy(self._cfg['loss'])
        if not isinstance(cfg, dict) or 'type' not in cfg:
            raise ValueError(
                f"distill item {self.name!r}: loss must be a dict with a "
                f"type, e.g. loss=dict(type='ICKDLoss', loss_weight=1.0); "
                f'got {cfg!r}')
        cls = cfg['type'] if isinstance(cfg['type'], type) else MODELS.get(
            cfg['type'])
        if cls is None:
            known = sorted(
                name for name, c in MODELS.module_dict.items()
                if isinstance(c, type) and issubclass(c, DistillLoss))
            raise KeyError(
                f'distill item {self.name!r}: unknown loss type '
                f'{cfg["type"]!r}{_did_you_mean(cfg["type"], known)}. '
                f"mmkd's distillation losses: {', '.join(known)}")
        params = inspect.signature(cls.__init__).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            valid = [n for n, p in params.items() if n != 'self' and p.kind
                     not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
            for key in cfg:
                if key != 'type' and key not in valid:
                    raise TypeError(
                        f'distill item {self.name!r}: {cls.__name__} has no '
                        f'option {key!r}{_did_you_mean(key, valid)}; its '
                        f'options are {", ".join(valid)}')
        return MODELS.build(cfg)

    def check_batch(self, batch_size: int) -> None:
        """On the first training batch: fail below the loss's
        ``min_batch``, warn when a loss that compares samples
        (``compares_samples``) sees a global batch of one (it is 0)."""
        if self._batch_checked:
            return
        self._batch_checked = True
        total = batch_size * dist.get_world_size()
        loss = type(self.loss).__name__
        if total < self.loss.min_batch:
            raise ValueError(
                f'distill item {self.name!r}: {loss} needs a batch of at '
                f'least {self.loss.min_batch} samples over all processes, '
                f'got {total}; raise train_dataloader.batch_size')
        if total < 2 and getattr(self.loss, 'compares_samples', False):
            print_log(
                f'distill item {self.name!r}: {loss} compares the samples '
                f'of a batch, but the global batch has 1 sample, so the '
                f'term is 0 and distils nothing; set '
                f'train_dataloader.batch_size to 2 or more (or train on '
                f'several processes)',
                logger='current',
                level=logging.WARNING)

    def _build_side(self, side: str, shapes, ref_shapes) -> List[torch.Size]:
        cfgs = self._cfg.get(f'{side}_transforms') or []
        if isinstance(cfgs, dict):
            cfgs = [cfgs]
        chains = getattr(self, f'{side}_transforms')
        out = []
        for i, shape in enumerate(shapes):
            ref = ref_shapes[i] if len(ref_shapes) > 1 else ref_shapes[0]
            chain = nn.ModuleList()
            for cfg in cfgs:
                module = self._build_transform(side, cfg, shape, ref)
                shape = _probe_transform(module, shape, ref)
                chain.append(module)
            chains.append(chain)
            out.append(shape)
        return out

    def _build_transform(self, side, cfg, shape, ref) -> nn.Module:
        cfg = dict(cfg)
        cls = MODELS.get(cfg.get('type'))
        if cls is None:
            raise KeyError(
                f'distill item {self.name!r}: unknown {side} transform '
                f'{cfg.get("type")!r}; mmkd has ConvBNConnector, '
                f'GlobalAvgPool, MLPProjector, RegionAvgPool, Resize')
        for key, source in getattr(cls, 'infer_from_shapes', {}).items():
            value = int((shape if source == 'in' else ref)[1])
            given = cfg.setdefault(key, value)
            if given != value:
                raise ValueError(
                    f'distill item {self.name!r}: {side} transform '
                    f'{cfg["type"]} sets {key}={given}, but the probed '
                    f'shapes say {value} (input {tuple(shape)}, other side '
                    f'{tuple(ref)}); leave {key} out to infer it')
        return MODELS.build(cfg)

    def _check_shapes(self, s_out, t_out) -> None:
        loss = self.loss
        for i, s in enumerate(s_out):
            t = t_out[i] if len(t_out) > 1 else t_out[0]
            where = (f'distill item {self.name!r}: the student feature '
                     f'{self.student_specs[i]} reaches the loss as '
                     f'{tuple(s)}, the teacher feature as {tuple(t)}')
            if s[0] != t[0]:
                raise ValueError(f'{where}: batch sizes differ')
            if loss.requires_equal_channels and len(s) > 1 and s[1] != t[1]:
                raise ValueError(
                    f'{where}: channels differ ({s[1]} vs {t[1]}) and '
                    f'{type(loss).__name__} needs equal channels; add '
                    f"student_transforms=[dict(type='ConvBNConnector')] "
                    f"(or dict(type='MLPProjector') for embeddings)")
            if len(s) == 4 and len(t) == 4 and s[2:] != t[2:] and \
                    loss.requires_equal_size:
                raise ValueError(
                    f'{where}: spatial sizes differ ({tuple(s[2:])} vs '
                    f"{tuple(t[2:])}); add dict(type='Resize') to the end "
                    f'of student_transforms')
            if len(s) != len(t) and loss.requires_equal_channels and \
                    loss.requires_equal_size:
                raise ValueError(
                    f'{where}: the tensors have different ranks; pool both '
                    f"sides (dict(type='GlobalAvgPool')) or neither")

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    @staticmethod
    def _run_chain(chain, x: Tensor, ref: Tensor) -> Tensor:
        for module in chain:
            if getattr(module, 'needs_reference', False):
                x = module(x, ref)
            else:
                x = module(x)
        return x

    def transform(self, student: Sequence[Tensor],
                  teacher: Sequence[Tensor]) -> Tuple[Features, Features]:
        """Apply the transforms: teacher side first, then the student's."""
        t_out = []
        for i, (chain, x) in enumerate(zip(self.teacher_transforms, teacher)):
            ref = student[i] if len(student) > 1 else student[0]
            t_out.append(self._run_chain(chain, x, ref))
        s_out = []
        for i, (chain, x) in enumerate(zip(self.student_transforms, student)):
            ref = t_out[i] if len(t_out) > 1 else t_out[0]
            s_out.append(self._run_chain(chain, x, ref))
        return self.pack(s_out, t_out)

    def pack(self, student: Sequence[Tensor],
             teacher: Sequence[Tensor]) -> Tuple[Features, Features]:
        """Tensors for single specs, tuples for lists."""
        s = tuple(student) if self.student_is_list else student[0]
        t = tuple(teacher) if self.teacher_is_list else teacher[0]
        return s, t

    def extra_repr(self) -> str:
        return f'name={self.name!r}'


def _probe_transform(module: nn.Module, shape: torch.Size,
                     ref: torch.Size) -> torch.Size:
    """Output shape of a transform on zeros of ``shape`` (eval mode)."""
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            x = torch.zeros(shape)
            if getattr(module, 'needs_reference', False):
                y = module(x, torch.zeros(ref))
            else:
                y = module(x)
    finally:
        module.train(was_training)
    return y.shape


def _did_you_mean(name, valid) -> str:
    close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close \
        else ''
