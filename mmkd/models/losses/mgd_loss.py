"""Matching Guided Distillation (MGD): the loss, its reductions and margins.

Reference: Kaiyu Yue, Jiangfan Deng, Feng Zhou. "Matching Guided
Distillation", ECCV 2020. Registered as ``MatchingGuidedLoss`` (not
``MGD``: mmrazor's ``MGDLoss`` is the unrelated masked generative
distillation).

For each distilled stage ``i`` (``k`` stages), with the pre-ReLU student
map ``S_i`` (``B x C_s x H x W``) passed through a BN (the only adapter)
and the pre-ReLU teacher map ``T_i`` (``B x C_t x H x W``):

1. the assignment (a buffer, solved by :class:`MatchingGuidedHook` with
   :mod:`.matching`) gives each student channel ``c`` a group of ``G``
   teacher channels (``G = C_t // C_s`` for AMP and RD, 1 for SM);
2. the group is reduced to one map ``R_c``: AMP takes, per position, the
   member with the largest absolute value; RD a uniformly random member;
   SM the single matched channel;
3. the teacher margin ``m_c`` (a lower bound of the teacher's negative
   responses, from the BN before the ReLU, :func:`teacher_margin`) clamps
   it: ``T' = max(R_c, m_c)``; AMP uses the mean margin of the group, RD
   the margin of the drawn member, SM the matched channel's;
4. partial L2: ``sum (BN(S) - T')^2`` over the positions where
   ``BN(S) > T'`` or ``T' > 0``.

.. math::

    L = \\frac{1}{B \\cdot \\text{loss\\_factor}} \\sum_{i=0}^{k-1}
        \\frac{1}{2^{k-1-i}} \\sum_{b,c,h,w} \\mathbb{1}[S' > T' \\lor
        T' > 0] \\, (S' - T')^2

The authors divide by the per-GPU batch size and ``loss_factor = 1e4``
(ImageNet, 224 x 224 input). The pure functions (margin, reductions,
partial L2) live in :mod:`.mgd_ops`; the assignment in :mod:`.matching`.
"""
import logging
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmcv.cnn import build_norm_layer
from mmengine.logging import print_log
from torch import Tensor, nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmkd.registry import MODELS
from .base import DistillContext, DistillLoss
from .matching import check_channels, group_count, identity_assignment
from .mgd_ops import (gather_groups, margin_from_bn, partial_l2, reduce_amp,
                      reduce_random, teacher_margin)

__all__ = [
    'teacher_margin', 'margin_from_bn', 'gather_groups', 'reduce_amp',
    'reduce_random', 'partial_l2', 'MatchingGuidedLoss'
]

REDUCTIONS = dict(amp='many_to_one', rd='many_to_one', sm='one_to_one')
AMP_KEYS = ('abs', 'signed')


def _as_tuple(x) -> Tuple[Tensor, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x, )


# --------------------------------------------------------------------------
# module
# --------------------------------------------------------------------------
@MODELS.register_module()
class MatchingGuidedLoss(DistillLoss):
    """Matching Guided Distillation loss (Yue et al., ECCV 2020).

    One instance distils one stage (tensors) or several (a distill item
    listing one spec per stage gives tuples, in stage order). The loss owns
    its state, all created by :meth:`setup` from the probed shapes:

    * ``assignment_<i>`` (long buffer, ``G x C_s``): teacher channels of
      each student channel. Before the first matching it is the tiled
      identity (student channel ``c`` gets ``c, C_s + c, ...``), a
      placeholder, and ``matched`` is False; :class:`MatchingGuidedHook`
      solves and writes it. Buffers are checkpointed, so a resumed run
      continues with the same assignment.
    * ``margin_<i>`` (float buffer, ``C_t``): teacher margins.
    * ``matched`` (bool buffer) and ``num_matchings`` (long buffer).
    * ``adapters`` (``nn.ModuleList`` of BN): the student-side BN of each
      stage, trained with the student, not exported.

    Args:
        reduction (str): ``'amp'`` (absolute max pooling), ``'rd'`` (random
            drop) or ``'sm'`` (sparse matching, one-to-one). Defaults to
            ``'amp'``.
        loss_weight (float): Multiplier. Defaults to 1.0.
        loss_factor (float): The loss is divided by ``batch * loss_factor``.
            Defaults to 1e4 (the authors' ImageNet value at 224 x 224).
        stage_factors (float | Sequence[float], optional): Multiplier of
            each stage's sum. None: ``1 / 2^(k-1-i)`` for stage ``i`` of
            ``k`` (1 for a single stage). For one item per stage give that
            stage's factor here (e.g. 0.125 for stage 0 of 4).
        teacher_bn (str | Sequence, optional): The teacher BN before each
            stage's ReLU, by module name in the teacher (one name, or one
            per stage). ``'auto'``: for a spec on the input of a block's
            ReLU, the block's ``bn3`` (Bottleneck) or ``bn2`` (BasicBlock);
            for a spec on a BN's output, that BN. None: no margin (the
            clamp and the mask use ``-inf``). Defaults to ``'auto'``.
        norm_cfg (dict): The student adapter's norm. Defaults to
            ``dict(type='BN')``.
        amp_key (str): ``'abs'`` (the paper: largest absolute value) or
            ``'signed'`` (largest value, the authors' released code).
            Only for AMP. Defaults to ``'abs'``.
    """

    requires_equal_channels = False
    accepts_multiple = True

    def __init__(self,
                 reduction: str = 'amp',
                 loss_weight: float = 1.0,
                 loss_factor: float = 1e4,
                 stage_factors: Union[None, float, Sequence[float]] = None,
                 teacher_bn: Union[None, str, Sequence[Optional[str]]] = (
                     'auto'),
                 norm_cfg: dict = dict(type='BN'),
                 amp_key: str = 'abs'):
        super().__init__(loss_weight=loss_weight)
        if reduction not in REDUCTIONS:
            raise ValueError(f'MatchingGuidedLoss: reduction={reduction!r} '
                             f'is not one of {list(REDUCTIONS)}')
        if amp_key not in AMP_KEYS:
            raise ValueError(f'MatchingGuidedLoss: amp_key={amp_key!r} is '
                             f'not one of {list(AMP_KEYS)}')
        if isinstance(loss_factor, bool) or not isinstance(
                loss_factor, (int, float)) or not loss_factor > 0:
            raise ValueError(f'MatchingGuidedLoss: loss_factor must be a '
                             f'positive number, got {loss_factor!r}')
        self.reduction = reduction
        self.matching_mode = REDUCTIONS[reduction]
        self.loss_factor = float(loss_factor)
        self._stage_factors_cfg = stage_factors
        self.teacher_bn = teacher_bn
        self.norm_cfg = dict(norm_cfg)
        self.amp_key = amp_key
        self.num_stages = 0
        self.stage_factors: List[float] = []
        self.student_channels: List[int] = []
        self.teacher_channels: List[int] = []
        self.teacher_bn_names: List[Optional[str]] = []
        self.adapters = nn.ModuleList()
        self._matched_cache: Optional[bool] = None
        self._warned = False

    # ------------------------------------------------------------------
    # build
    # ------------------------------------------------------------------
    def setup(self, context: DistillContext) -> None:
        """Size buffers and adapters; read the teacher margins."""
        where = f'distill item {context.name!r}: '
        s_shapes, t_shapes = context.student_shapes, context.teacher_shapes
        if len(s_shapes) != len(t_shapes):
            raise ValueError(
                f'{where}MatchingGuidedLoss pairs student and teacher stages '
                f'one to one, got {len(s_shapes)} student and '
                f'{len(t_shapes)} teacher features; list as many of each')
        k = len(s_shapes)
        for i, (s, t) in enumerate(zip(s_shapes, t_shapes)):
            if len(s) != 4 or len(t) != 4:
                raise ValueError(f'{where}stage {i}: MGD distils B x C x H x '
                                 f'W maps, got {tuple(s)} and {tuple(t)}')
            check_channels(s[1], t[1], f'{where}stage {i}: ')
        self.num_stages = k
        self.student_channels = [int(s[1]) for s in s_shapes]
        self.teacher_channels = [int(t[1]) for t in t_shapes]
        self.stage_factors = self._parse_stage_factors(k, where)
        self.teacher_bn_names = self._resolve_teacher_bns(context, where)
        self.adapters = nn.ModuleList(
            build_norm_layer(self.norm_cfg, cs)[1]
            for cs in self.student_channels)
        for i, (cs, ct) in enumerate(
                zip(self.student_channels, self.teacher_channels)):
            self.register_buffer(
                f'assignment_{i}',
                identity_assignment(cs, ct, self.matching_mode))
            self.register_buffer(f'margin_{i}', torch.zeros(ct))
            dropped = ct - group_count(cs, ct, self.matching_mode) * cs
            if dropped:
                print_log(
                    f'{where}MGD stage {i}: {ct} teacher channels for {cs} '
                    f'student channels; {dropped} teacher channels are left '
                    f'out by every matching', logger='current')
        self.register_buffer('matched', torch.tensor(False))
        self.register_buffer('num_matchings', torch.tensor(0))
        self._matched_cache = False
        if context.teacher is not None:
            self.refresh_margins(context.teacher)

    def _parse_stage_factors(self, k: int, where: str) -> List[float]:
        cfg = self._stage_factors_cfg
        if cfg is None:
            return [1.0 / 2**(k - 1 - i) for i in range(k)]
        factors = [cfg] if isinstance(cfg, (int, float)) else list(cfg)
        if len(factors) != k or not all(
                isinstance(f, (int, float)) and not isinstance(f, bool)
                for f in factors):
            raise ValueError(f'{where}stage_factors={cfg!r} must give one '
                             f'number per stage ({k} stages)')
        return [float(f) for f in factors]

    def _resolve_teacher_bns(self, context: DistillContext,
                             where: str) -> List[Optional[str]]:
        k = self.num_stages
        cfg = self.teacher_bn
        names = list(cfg) if isinstance(cfg, (list, tuple)) else [cfg] * k
        if len(names) != k:
            raise ValueError(f'{where}teacher_bn={cfg!r} gives {len(names)} '
                             f'names for {k} stages')
        teacher = context.teacher
        out = []
        for i, name in enumerate(names):
            if name == 'auto':
                name = self._auto_bn(context, i, where)
            if name is not None and teacher is not None:
                try:
                    bn = teacher.get_submodule(name)
                except AttributeError:
                    raise ValueError(f'{where}teacher_bn: the teacher has no '
                                     f'module {name!r}') from None
                if not isinstance(bn, _BatchNorm):
                    raise ValueError(
                        f'{where}teacher_bn {name!r} is a '
                        f'{type(bn).__name__}, not a BatchNorm')
                if bn.num_features != self.teacher_channels[i]:
                    raise ValueError(
                        f'{where}teacher_bn {name!r} has {bn.num_features} '
                        f'channels but the teacher feature of stage {i} has '
                        f'{self.teacher_channels[i]}; name the BN of that '
                        f'feature')
            out.append(name)
        return out

    @staticmethod
    def _auto_bn(context: DistillContext, i: int, where: str) -> str:
        spec = context.teacher_specs[i] if context.teacher_specs else None
        teacher = context.teacher
        if spec is not None and teacher is not None:
            module = teacher.get_submodule(spec.module)
            if spec.source == 'output' and isinstance(module, _BatchNorm):
                return spec.module
            if spec.source == 'input' and '.' in spec.module:
                parent = spec.module.rsplit('.', 1)[0]
                block = teacher.get_submodule(parent)
                for child in ('bn3', 'bn2'):
                    if isinstance(getattr(block, child, None), _BatchNorm):
                        return f'{parent}.{child}'
        raise ValueError(
            f"{where}teacher_bn='auto' finds no BN before the ReLU of "
            f'teacher feature {spec} (it handles the input of a ResNet '
            f"block's ReLU and a BN's output); set teacher_bn to the BN's "
            f"name (e.g. 'backbone.layer4.2.bn3'), or None for no margin")

    def refresh_margins(self, teacher: nn.Module) -> None:
        """Recompute the margin buffers from the teacher's BNs."""
        for i, name in enumerate(self.teacher_bn_names):
            buf = getattr(self, f'margin_{i}')
            if name is None:
                buf.fill_(float('-inf'))
            else:
                buf.copy_(margin_from_bn(teacher.get_submodule(name)))

    # ------------------------------------------------------------------
    # assignment state
    # ------------------------------------------------------------------
    def assignment(self, i: int) -> Tensor:
        """``G x C_s`` teacher channels of stage ``i``'s student channels."""
        return getattr(self, f'assignment_{i}')

    def margin(self, i: int) -> Tensor:
        """``C_t`` teacher margins of stage ``i``."""
        return getattr(self, f'margin_{i}')

    @property
    def is_matched(self) -> bool:
        """Whether a matching has been written (reads the buffer once)."""
        if self._matched_cache is None:
            self._matched_cache = bool(self.matched)
        return self._matched_cache

    def set_assignment(self, assignments: Sequence) -> None:
        """Write one ``G x C_s`` assignment per stage; marks matched."""
        if len(assignments) != self.num_stages:
            raise ValueError(f'expected {self.num_stages} assignments, got '
                             f'{len(assignments)}')
        for i, value in enumerate(assignments):
            buf = self.assignment(i)
            value = torch.as_tensor(np.asarray(value), dtype=torch.long)
            if value.shape != buf.shape:
                raise ValueError(f'stage {i}: assignment shape '
                                 f'{tuple(value.shape)} != {tuple(buf.shape)}')
            buf.copy_(value)
        self.matched.fill_(True)
        self.num_matchings.add_(1)
        self._matched_cache = True

    def _load_from_state_dict(self, *args, **kwargs):
        super()._load_from_state_dict(*args, **kwargs)
        self._matched_cache = None

    # ------------------------------------------------------------------
    # loss
    # ------------------------------------------------------------------
    def reduce(self, i: int, teacher: Tensor) -> Tuple[Tensor, Tensor]:
        """Stage ``i``'s teacher reduced to ``C_s`` channels, and margins.

        Returns:
            tuple[Tensor, Tensor]: ``B x C_s x H x W`` values and margins
            broadcastable to them.
        """
        assignment = self.assignment(i)
        margins = self.margin(i).to(teacher.dtype)[assignment]  # G x C_s
        cs = assignment.shape[1]
        if self.reduction == 'sm':
            return (teacher.index_select(1, assignment[0]),
                    margins[0].reshape(1, cs, 1, 1))
        groups = gather_groups(teacher, assignment)
        if self.reduction == 'amp':
            return (reduce_amp(groups, self.amp_key),
                    margins.mean(0).reshape(1, cs, 1, 1))
        return reduce_random(groups, margins)

    def compute(self, student, teacher) -> Tensor:
        students, teachers = _as_tuple(student), _as_tuple(teacher)
        if self.num_stages == 0:
            raise RuntimeError(
                'MatchingGuidedLoss has not been set up: build it through a '
                'distiller (which calls setup(context) with the probed '
                'shapes), not on its own')
        if len(students) != self.num_stages or len(teachers) != len(
                students):
            raise ValueError(
                f'MatchingGuidedLoss was set up for {self.num_stages} '
                f'stages, got {len(students)} student and {len(teachers)} '
                f'teacher features')
        if self.training and not self._warned and not self.is_matched:
            self._warned = True
            print_log(
                'MatchingGuidedLoss: training with the identity placeholder '
                'assignment (no matching yet); add '
                "dict(type='MatchingGuidedHook') to custom_hooks",
                logger='current', level=logging.WARNING)
        total = students[0].new_zeros((), dtype=torch.float32)
        for i, (s, t) in enumerate(zip(students, teachers)):
            if s.shape[1] != self.student_channels[i] or \
                    t.shape[1] != self.teacher_channels[i] or \
                    s.shape[2:] != t.shape[2:] or s.shape[0] != t.shape[0]:
                raise ValueError(
                    f'MatchingGuidedLoss stage {i}: expected student B x '
                    f'{self.student_channels[i]} x H x W and teacher B x '
                    f'{self.teacher_channels[i]} x H x W, got '
                    f'{tuple(s.shape)} and {tuple(t.shape)}')
            s = self.adapters[i](s.float())
            values, margin = self.reduce(i, t.detach().float())
            total = total + self.stage_factors[i] * partial_l2(
                s, values, margin)
        return total / (students[0].shape[0] * self.loss_factor)

    def extra_repr(self) -> str:
        return (f'reduction={self.reduction!r}, loss_weight='
                f'{self.loss_weight}, loss_factor={self.loss_factor}, '
                f'stages={self.num_stages}')
