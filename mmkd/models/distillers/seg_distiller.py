"""Distiller that trains an mmseg student against a frozen mmseg teacher."""
import contextlib
import logging
import copy
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from mmkd.registry import MODELS
from ..recorders import FeatureRecorder, FeatureSpec

ForwardResults = Union[Dict[str, Tensor], List, Tensor]


@dataclass
class DistillItem:
    """One distillation term: a student feature, a teacher feature, a loss.

    Built by :class:`SegDistiller` from one entry of its ``distill`` list;
    see there for the config keys.
    """
    name: str
    student_feature: FeatureSpec
    teacher_feature: FeatureSpec
    resize: Optional[str] = 'bilinear'
    align_corners: bool = False


#: Default ``teacher_fast_path``; a config's options update it.
TEACHER_FAST_PATH_DEFAULTS = dict(channels_last=True, autocast=None,
                                  compile=False)


@MODELS.register_module()
class SegDistiller(BaseModel):
    """Wrap an mmseg student segmentor and a frozen teacher for distillation.

    Training runs the teacher's forward under ``torch.no_grad()`` and the
    student's usual ``loss()``; features are captured by forward hooks
    (:class:`FeatureRecorder`), student features go through an optional
    connector and are resized to the teacher's spatial size, and each
    distillation loss is added to the student's task losses as
    ``distill.<name>``. Validation and test predict with the student.

    The teacher is frozen: its parameters have ``requires_grad=False``, it
    stays in eval mode whatever ``train()`` is called with (so its BN
    statistics never change), and ``init_weights()`` leaves a loaded
    teacher untouched.

    Args:
        student (dict): Config of any mmseg segmentor.
        teacher (dict): Config of the teacher segmentor.
        distill (Sequence[dict]): Distillation items. Each is a dict with:

            - ``name`` (str): loss name, logged as ``distill.<name>``; must
              contain ``'loss'`` so that mmengine optimises it.
            - ``student_feature``, ``teacher_feature``: a module name
              (its output is captured) or a dict
              ``dict(module=..., source='input'|'output', index=None,
              call=-1)``; see :class:`FeatureSpec`.
            - ``loss`` (dict): config of a registered loss module, called
              as ``loss(student, teacher[, target=labels])``.
            - ``connector`` (dict, optional): student-side module mapping
              the student feature to the teacher's channels, e.g.
              ``dict(type='ConvBNConnector')``; ``in_channels`` and
              ``out_channels`` are filled in from the recorded shapes.
            - ``resize`` (str, optional): interpolation mode used when the
              (connected) student map and the teacher map differ in
              spatial size; the student map is resized to the teacher's.
              None makes a size mismatch an error. Defaults to
              ``'bilinear'``.
            - ``align_corners`` (bool): passed to ``F.interpolate``.
              Defaults to False.
        teacher_checkpoint (str, optional): Path or URL of the teacher's
            weights. Loaded with mmkd's safe (weights-only) loader.
        teacher_strict (bool): Fail when the checkpoint's keys do not
            match the teacher model. Defaults to True.
        data_preprocessor (dict, optional): Defaults to the student's.
        probe_input_shape (tuple): ``(B, C, H, W)`` of the dummy input run
            once through both models at build time to check the feature
            names, infer connector channels and catch shape mismatches.
            Defaults to ``(1, 3, 64, 64)``.
        teacher_fast_path (dict, optional): Speed options for the teacher's
            forward only; the student is untouched and captured teacher
            features are cast back to the student's dtype before any loss:

            - ``channels_last`` (bool): teacher weights and inputs in
              channels-last memory format.
            - ``autocast`` (str, optional): ``'bf16'`` or ``'fp16'`` autocast
              around the teacher's forward.
            - ``compile`` (bool or dict): ``torch.compile`` the teacher's
              forward; a dict is passed to ``torch.compile`` as kwargs.

            Given options update the defaults, ``channels_last=True`` (the
            one measured winner: 1.12-1.30x on the ResNet101 teacher on
            CPU, features equal to 1e-5 relative), autocast and compile
            off (bf16 autocast was 6-70x slower on a CPU without bf16
            units). ``dict(channels_last=False)`` turns it off. See
            docs/performance.md.
        init_cfg (dict, optional): Initialisation config.
    """

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 distill: Sequence[dict] = (),
                 teacher_checkpoint: Optional[str] = None,
                 teacher_strict: bool = True,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 probe_input_shape: Tuple[int, int, int, int] = (1, 3, 64,
                                                                 64),
                 teacher_fast_path: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        with _mmkd_scope():
            if data_preprocessor is None:
                data_preprocessor = copy.deepcopy(
                    student.get('data_preprocessor'))
            if isinstance(data_preprocessor, dict):
                data_preprocessor = MODELS.build(data_preprocessor)
            super().__init__(
                data_preprocessor=data_preprocessor, init_cfg=init_cfg)
            self.student = MODELS.build(student)
            self.teacher = MODELS.build(teacher)

        self.teacher_checkpoint = teacher_checkpoint
        if teacher_checkpoint:
            self._load_teacher(teacher_checkpoint, teacher_strict)
        else:
            print_log(
                'SegDistiller: no teacher_checkpoint given; the teacher '
                'keeps its initial weights. Set model.teacher_checkpoint to '
                'a trained teacher for real distillation.',
                logger='current',
                level=logging.WARNING)
        self.teacher.requires_grad_(False)
        self.teacher.eval()

        self.distill_items: List[DistillItem] = []
        self.connectors = nn.ModuleDict()
        self.distill_losses = nn.ModuleDict()
        item_cfgs = [self._parse_item(cfg) for cfg in distill]
        self.student_recorder = FeatureRecorder(
            self.student, [item.student_feature for item, _ in item_cfgs],
            'student')
        self.teacher_recorder = FeatureRecorder(
            self.teacher, [item.teacher_feature for item, _ in item_cfgs],
            'teacher')
        shapes = self._probe_shapes(probe_input_shape)
        with _mmkd_scope():
            for item, cfg in item_cfgs:
                self._build_item(item, cfg, shapes)
        self._predict_with = 'student'
        self._setup_teacher_fast_path(
            dict(TEACHER_FAST_PATH_DEFAULTS, **(teacher_fast_path or {})))

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    def _parse_item(self, cfg: dict) -> Tuple[DistillItem, dict]:
        cfg = dict(cfg)
        known = {
            'name', 'student_feature', 'teacher_feature', 'loss',
            'connector', 'resize', 'align_corners'
        }
        unknown = set(cfg) - known
        missing = {'name', 'student_feature', 'teacher_feature', 'loss'
                   } - set(cfg)
        if unknown or missing:
            raise ValueError(
                f'distill item {cfg.get("name", cfg)!r}: '
                + (f'unknown keys {sorted(unknown)} ' if unknown else '')
                + (f'missing keys {sorted(missing)} ' if missing else '')
                + f'(valid keys: {sorted(known)})')
        name = cfg['name']
        if 'loss' not in name:
            raise ValueError(
                f"distill item name {name!r} must contain 'loss' (e.g. "
                f"'loss_{name}'): mmengine only optimises log keys that "
                f"contain 'loss'")
        if name in {item.name for item in self.distill_items}:
            raise ValueError(f'duplicate distill item name {name!r}')
        resize = cfg.get('resize', 'bilinear')
        if resize not in (None, 'bilinear', 'nearest', 'bicubic', 'area'):
            raise ValueError(
                f"distill item {name!r}: resize must be None, 'bilinear', "
                f"'nearest', 'bicubic' or 'area', got {resize!r}")
        item = DistillItem(
            name=name,
            student_feature=FeatureSpec.parse(cfg['student_feature']),
            teacher_feature=FeatureSpec.parse(cfg['teacher_feature']),
            resize=resize,
            align_corners=cfg.get('align_corners', False))
        # Register the name now so that duplicates are caught.
        self.distill_items.append(item)
        return item, cfg

    @torch.no_grad()
    def _probe_shapes(
            self, input_shape) -> Dict[Tuple[str, FeatureSpec], torch.Size]:
        """Run a dummy input through both models and record feature shapes.

        Raises:
            RuntimeError: If a named module does not run in the forward
                pass or does not produce a tensor.
        """
        shapes = {}
        dummy = torch.randn(*input_shape)
        for role, model, recorder in (('student', self.student,
                                       self.student_recorder),
                                      ('teacher', self.teacher,
                                       self.teacher_recorder)):
            was_training = model.training
            model.eval()
            try:
                with recorder.recording():
                    model._forward(dummy)
                for spec in recorder.specs:
                    shapes[(role, spec)] = recorder.get(spec).shape
            finally:
                recorder.reset()
                model.train(was_training)
        return shapes

    def _build_item(self, item: DistillItem, cfg: dict, shapes) -> None:
        s_shape = shapes[('student', item.student_feature)]
        t_shape = shapes[('teacher', item.teacher_feature)]
        where = (f'distill item {item.name!r}: student '
                 f'{item.student_feature} has shape {tuple(s_shape)}, '
                 f'teacher {item.teacher_feature} has shape {tuple(t_shape)}')
        loss = MODELS.build(cfg['loss'])
        connector_cfg = cfg.get('connector')
        out_shape = s_shape
        if connector_cfg is not None:
            connector_cfg = dict(connector_cfg)
            for key, value in (('in_channels', s_shape[1]),
                               ('out_channels', t_shape[1])):
                given = connector_cfg.setdefault(key, value)
                if given != value:
                    raise ValueError(
                        f'{where}, but the connector sets {key}={given}; '
                        f'expected {value} (or leave it out to infer it)')
            connector = MODELS.build(connector_cfg)
            with torch.no_grad():
                was_training = connector.training
                connector.eval()
                out_shape = connector(torch.zeros(s_shape)).shape
                connector.train(was_training)
            self.connectors[item.name] = connector
        if (getattr(loss, 'requires_equal_channels', True)
                and out_shape[1] != t_shape[1]):
            raise ValueError(
                f'{where}: channels differ ({out_shape[1]} vs {t_shape[1]}) '
                f"and no connector maps them; add connector=dict(type="
                f"'ConvBNConnector') to the item")
        if out_shape[-2:] != t_shape[-2:] and item.resize is None:
            raise ValueError(
                f'{where}: spatial sizes differ ({tuple(out_shape[-2:])} vs '
                f"{tuple(t_shape[-2:])}) and resize=None; set resize="
                f"'bilinear' to resize the student map to the teacher's")
        self.distill_losses[item.name] = loss

    def _setup_teacher_fast_path(self, options: dict) -> None:
        unknown = set(options) - set(TEACHER_FAST_PATH_DEFAULTS)
        if unknown:
            raise ValueError(
                f'teacher_fast_path: unknown options {sorted(unknown)}; '
                f'valid: {sorted(TEACHER_FAST_PATH_DEFAULTS)}')
        autocast = options.get('autocast')
        dtypes = {None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
        if autocast not in dtypes:
            raise ValueError(
                f"teacher_fast_path.autocast must be None, 'bf16' or 'fp16', "
                f'got {autocast!r}')
        self._teacher_autocast = dtypes[autocast]
        self._teacher_channels_last = bool(options.get('channels_last'))
        if self._teacher_channels_last:
            self.teacher.to(memory_format=torch.channels_last)
        self._teacher_forward_fn = self.teacher._forward
        compile_opts = options.get('compile')
        if compile_opts:
            kwargs = compile_opts if isinstance(compile_opts, dict) else {}
            self._teacher_forward_fn = torch.compile(self.teacher._forward,
                                                     **kwargs)

    def _load_teacher(self, checkpoint: str, strict: bool) -> None:
        from mmengine.runner.checkpoint import _load_checkpoint

        ckpt = _load_checkpoint(checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) \
            else ckpt
        state = {
            (k[len('module.'):] if k.startswith('module.') else k): v
            for k, v in state.items()
        }
        own = self.teacher.state_dict()
        missing = [
            k for k in own
            if k not in state and not k.endswith('num_batches_tracked')
        ]
        unexpected = [k for k in state if k not in own]
        wrong_shape = [
            f'{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}'
            for k, v in own.items()
            if k in state and state[k].shape != v.shape
        ]
        if missing or unexpected or wrong_shape:
            msg = (f'teacher checkpoint {checkpoint} does not match the '
                   f'teacher config: {len(missing)} missing keys '
                   f'{missing[:3]}, {len(unexpected)} unexpected keys '
                   f'{unexpected[:3]}, {len(wrong_shape)} shape mismatches '
                   f'(checkpoint vs model) {wrong_shape[:3]}. Check that '
                   f'`teacher` is the model the checkpoint was trained with')
            if strict:
                raise RuntimeError(
                    msg + ', or set teacher_strict=False to load what fits.')
            print_log(msg, logger='current', level=logging.WARNING)
            state = {
                k: v
                for k, v in state.items()
                if k in own and own[k].shape == v.shape
            }
        self.teacher.load_state_dict(state, strict=False)
        # A loaded teacher must not be re-initialised by init_weights().
        self.teacher._is_init = True
        print_log(f'SegDistiller: loaded teacher from {checkpoint}',
                  logger='current')

    # ------------------------------------------------------------------
    # mode handling
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'SegDistiller':
        """Set train mode on everything but the teacher, kept in eval."""
        super().train(mode)
        self.teacher.eval()
        return self

    @property
    def predict_with(self) -> str:
        """Which model ``predict``/``tensor`` modes use."""
        return self._predict_with

    @contextlib.contextmanager
    def predicting_with(self, which: str):
        """Temporarily predict with ``'teacher'`` or ``'student'``."""
        if which not in ('student', 'teacher'):
            raise ValueError(
                f"predict with 'student' or 'teacher', got {which!r}")
        previous, self._predict_with = self._predict_with, which
        try:
            yield self
        finally:
            self._predict_with = previous

    # mmseg's SegTTAModel and visualisers read these from the segmentor.
    @property
    def out_channels(self) -> int:
        """``out_channels`` of the segmentor that predicts."""
        return self._predictor.out_channels

    @property
    def num_classes(self) -> int:
        """``num_classes`` of the segmentor that predicts."""
        return self._predictor.num_classes

    @property
    def align_corners(self) -> bool:
        """``align_corners`` of the segmentor that predicts."""
        return self._predictor.align_corners

    @property
    def decode_head(self) -> nn.Module:
        """``decode_head`` of the segmentor that predicts."""
        return self._predictor.decode_head

    @property
    def _predictor(self) -> nn.Module:
        return self.teacher if self._predict_with == 'teacher' \
            else self.student

    # ------------------------------------------------------------------
    # forward
    # ------------------------------------------------------------------
    def forward(self,
                inputs: Tensor,
                data_samples=None,
                mode: str = 'tensor') -> ForwardResults:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self._predictor.predict(inputs, data_samples)
        if mode == 'tensor':
            return self._predictor._forward(inputs, data_samples)
        raise ValueError(
            f"invalid mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    def teacher_forward(self, inputs: Tensor) -> None:
        """Run the teacher (no grad) while its recorder captures features.

        Applies the ``teacher_fast_path`` options (memory format, autocast,
        compiled forward).
        """
        if self._teacher_channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        autocast = contextlib.nullcontext()
        if self._teacher_autocast is not None:
            autocast = torch.autocast(
                device_type=inputs.device.type, dtype=self._teacher_autocast)
        with self.teacher_recorder.recording(), torch.no_grad(), autocast:
            self._teacher_forward_fn(inputs)

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Student task losses plus one ``distill.<name>`` term per item."""
        self.teacher_forward(inputs)
        with self.student_recorder.recording():
            losses = self.student.loss(inputs, data_samples)
        target = None
        if any(
                getattr(loss, 'requires_target', False)
                for loss in self.distill_losses.values()):
            target = _stack_targets(data_samples)
        try:
            for item in self.distill_items:
                losses[f'distill.{item.name}'] = self.distill_loss(
                    item, target)
        finally:
            self.student_recorder.reset()
            self.teacher_recorder.reset()
        return losses

    def distill_loss(self,
                     item: DistillItem,
                     target: Optional[Tensor] = None) -> Tensor:
        """Compute one item's loss from the last recorded features."""
        student = self.student_recorder.get(item.student_feature)
        teacher = self.teacher_recorder.get(item.teacher_feature).detach()
        # Undo the teacher's fast path: the loss sees student dtype/layout.
        teacher = teacher.to(dtype=student.dtype).contiguous()
        if item.name in self.connectors:
            student = self.connectors[item.name](student)
        if student.shape[-2:] != teacher.shape[-2:]:
            if item.resize is None:
                raise ValueError(
                    f'distill item {item.name!r}: student map '
                    f'{tuple(student.shape)} and teacher map '
                    f'{tuple(teacher.shape)} differ in size and resize=None')
            kwargs = {} if item.resize in ('nearest', 'area') else dict(
                align_corners=item.align_corners)
            student = F.interpolate(
                student, size=teacher.shape[-2:], mode=item.resize, **kwargs)
        loss = self.distill_losses[item.name]
        if getattr(loss, 'requires_target', False):
            return loss(student, teacher, target=target)
        return loss(student, teacher)

    # ------------------------------------------------------------------
    # teardown
    # ------------------------------------------------------------------
    def remove_hooks(self) -> None:
        """Detach every feature-capture hook from student and teacher."""
        self.student_recorder.remove()
        self.teacher_recorder.remove()

    def __del__(self):
        try:
            self.remove_hooks()
        except Exception:  # noqa: BLE001  interpreter shutdown
            pass


def _stack_targets(data_samples) -> Tensor:
    """Stack ``gt_sem_seg`` of a batch into a ``(B, H, W)`` long tensor."""
    if not data_samples or 'gt_sem_seg' not in data_samples[0]:
        raise ValueError('a distill loss needs labels (requires_target) but '
                         'the batch has no gt_sem_seg')
    return torch.stack([ds.gt_sem_seg.data for ds in data_samples
                        ]).squeeze(1).long()


@contextlib.contextmanager
def _mmkd_scope():
    """Build inside the mmkd scope when no default scope is set."""
    if DefaultScope.get_current_instance() is None:
        with DefaultScope.overwrite_default_scope('mmkd'):
            yield
    else:
        yield
