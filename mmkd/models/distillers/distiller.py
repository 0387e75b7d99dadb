"""Task-agnostic distiller: a student, a frozen teacher, distill items."""
import contextlib
import copy
import logging
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
from mmengine import dist
from mmengine.logging import print_log
from mmengine.model import BaseModel
from mmengine.registry import DefaultScope
from torch import Tensor, nn

from mmkd.registry import MODELS
from ..recorders import FeatureRecorder
from .distill_item import DistillItem
from .teacher_utils import (DEFAULT_REVISE_KEYS, TeacherFastPath,
                            TeacherInput, load_teacher)

ForwardResults = Union[Dict[str, Tensor], List, Tensor]


class Distiller(BaseModel):
    """Wrap a student and a frozen teacher for knowledge distillation.

    Subclasses supply the task parts (:class:`SegDistiller`,
    :class:`ClsDistiller`): how labels and the valid-pixel mask come out of
    a batch (:meth:`targets`) and the attributes evaluators read. This base
    builds both models, loads and freezes the teacher, records features by
    hooks, builds the distill items (transforms and losses, sized by a
    build-time probe) and runs :meth:`loss` as a template: teacher forward
    (no grad, recording) -> student task loss (recording) -> one
    ``distill.<name>`` term per item. Validation and test predict with the
    student.

    The teacher is frozen: ``requires_grad=False``, kept in eval mode
    whatever ``train()`` is called with, and ``init_weights()`` leaves a
    loaded teacher untouched.

    Args:
        student (dict): Config of the student (an mmengine ``BaseModel``
            with loss / predict / tensor modes).
        teacher (dict): Config of the teacher.
        distill (Sequence[dict]): Distill items; schema in
            ``docs/engine.md`` and :class:`DistillItem`.
        teacher_checkpoint (str, optional): Path or URL of the teacher's
            weights, loaded with mmengine through mmkd's weights-only
            loader.
        teacher_strict (bool): Fail when the checkpoint does not fit the
            teacher. Defaults to True.
        teacher_revise_keys (Sequence[tuple]): ``(pattern, replacement)``
            applied to checkpoint keys, as mmengine's ``revise_keys``.
            Defaults to stripping ``module.``.
        data_preprocessor (dict, optional): Defaults to the student's.
        teacher_data_preprocessor (dict, optional): The teacher's input
            normalisation when it differs from the student's; defaults to
            the teacher config's ``data_preprocessor``. Mean, std and
            channel order are converted; different padding fails.
        probe_input_shape (tuple): ``(B, C, H, W)`` of the dummy input run
            once through both models at build time. Defaults to
            ``(2, 3, 64, 64)``.
        teacher_fast_path (dict, optional): ``channels_last`` (default
            True), ``autocast`` (``'bf16'``/``'fp16'``), ``compile``; the
            teacher's forward only (docs/performance.md).
        init_cfg (dict, optional): Initialisation config.
    """

    #: Checkpoint keys of the student; what export keeps.
    student_state_prefix = 'student.'

    def __init__(self,
                 student: dict,
                 teacher: dict,
                 distill: Sequence[dict] = (),
                 teacher_checkpoint: Optional[str] = None,
                 teacher_strict: bool = True,
                 teacher_revise_keys: Sequence[Tuple[str, str]] = (
                     DEFAULT_REVISE_KEYS),
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 teacher_data_preprocessor: Optional[dict] = None,
                 probe_input_shape: Sequence[int] = (2, 3, 64, 64),
                 teacher_fast_path: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        if not isinstance(student, dict) or not isinstance(teacher, dict):
            raise TypeError(
                f'{type(self).__name__}: student and teacher must be model '
                f'configs (dicts), got {type(student).__name__} and '
                f'{type(teacher).__name__}')
        student_dp_cfg = copy.deepcopy(
            data_preprocessor if data_preprocessor is not None else
            student.get('data_preprocessor'))
        if teacher_data_preprocessor is None:
            teacher_data_preprocessor = teacher.get('data_preprocessor')
        with _mmkd_scope():
            dp = student_dp_cfg
            if isinstance(dp, dict):
                dp = MODELS.build(dp)
            super().__init__(data_preprocessor=dp, init_cfg=init_cfg)
            self.student = MODELS.build(student)
            self.teacher = MODELS.build(teacher)
        self.check_models()
        self.teacher_input = TeacherInput(
            student_dp_cfg if isinstance(student_dp_cfg, dict) else None,
            teacher_data_preprocessor)

        self.teacher_checkpoint = teacher_checkpoint
        if teacher_checkpoint:
            load_teacher(self.teacher, teacher_checkpoint, teacher_strict,
                         teacher_revise_keys)
        else:
            print_log(
                f'{type(self).__name__}: no teacher_checkpoint given; the '
                f'teacher keeps its initial weights. Set '
                f'model.teacher_checkpoint to a trained teacher for real '
                f'distillation.',
                logger='current',
                level=logging.WARNING)
        self.teacher.requires_grad_(False)
        self.teacher.eval()

        self.distill_items = nn.ModuleList()
        names = set()
        for cfg in distill:
            item = DistillItem(cfg)
            if item.name in names:
                raise ValueError(f'duplicate distill item name {item.name!r}')
            names.add(item.name)
            self.distill_items.append(item)
        self.student_recorder = FeatureRecorder(
            self.student,
            [s for item in self.distill_items for s in item.student_specs],
            'student')
        self.teacher_recorder = FeatureRecorder(
            self.teacher,
            [s for item in self.distill_items for s in item.teacher_specs],
            'teacher')
        shapes = self._probe(tuple(probe_input_shape))
        with _mmkd_scope():
            for item in self.distill_items:
                item.build(
                    [shapes['student'][s.key] for s in item.student_specs],
                    [shapes['teacher'][s.key] for s in item.teacher_specs],
                    self._context_kwargs(item))
        self._predict_with = 'student'
        self._fast_path = TeacherFastPath(self.teacher,
                                          self.teacher_tensor_forward,
                                          teacher_fast_path)

    # ------------------------------------------------------------------
    # task parts: subclasses override
    # ------------------------------------------------------------------
    def check_models(self) -> None:
        """Fail early when student or teacher is not of the task's kind."""

    def targets(self, data_samples) -> Tuple[Optional[Tensor],
                                             Optional[Tensor]]:
        """``(target, valid_mask)`` of a batch; None where not defined."""
        return None, None

    def teacher_tensor_forward(self, inputs: Tensor):
        """The teacher's tensor-mode forward (what the fast path wraps)."""
        return self.teacher(inputs, mode='tensor')

    # ------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------
    @property
    def distill_losses(self) -> Dict[str, nn.Module]:
        """Item name -> loss module."""
        return {item.name: item.loss for item in self.distill_items}

    def _context_kwargs(self, item: DistillItem) -> dict:
        return dict(
            student=self.student,
            teacher=self.teacher,
            student_modules=tuple(
                self.student.get_submodule(s.module)
                for s in item.student_specs),
            teacher_modules=tuple(
                self.teacher.get_submodule(s.module)
                for s in item.teacher_specs))

    @torch.no_grad()
    def _probe(self, input_shape) -> Dict[str, Dict[tuple, torch.Size]]:
        """Run a dummy batch through both models; record shapes.

        Also finds every recorded tensor that a later in-place op modifies
        and makes its recorder clone it at capture (unless the spec says
        ``clone=False``, which then fails loudly at ``get``).
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
                    model(dummy, mode='tensor')
                shapes[role] = {}
                for spec in recorder.specs:
                    recorder._lookup(spec)  # ran, and is a tensor
                    if recorder.is_stale(spec):
                        if spec.clone is False:
                            recorder.get(spec)  # raises, naming the fix
                        recorder.set_clone(spec, True)
                        print_log(
                            f'distiller: {role} feature {spec} is modified '
                            f'in place after capture; it is cloned when '
                            f'recorded', logger='current')
                for spec in recorder.specs:
                    if recorder.clones(spec):
                        # re-run so that the shapes come from clean tensors
                        with recorder.recording():
                            model(dummy, mode='tensor')
                        break
                for spec in recorder.specs:
                    shapes[role][spec.key] = recorder.get(spec).shape
            except (RuntimeError, KeyError) as err:
                raise type(err)(f'while probing the {role} with a dummy '
                                f'input of shape {input_shape}: {err}') \
                    from err
            finally:
                recorder.reset()
                model.train(was_training)
        return shapes

    # ------------------------------------------------------------------
    # modes
    # ------------------------------------------------------------------
    def train(self, mode: bool = True) -> 'Distiller':
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

    @property
    def predictor(self) -> nn.Module:
        """The model that predicts (the student unless told otherwise)."""
        return self.teacher if self._predict_with == 'teacher' \
            else self.student

    def forward(self,
                inputs: Tensor,
                data_samples=None,
                mode: str = 'tensor') -> ForwardResults:
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode in ('predict', 'tensor'):
            if self._predict_with == 'teacher':
                inputs = self.teacher_input(inputs)
            return self.predictor(inputs, data_samples, mode=mode)
        raise ValueError(
            f"invalid mode {mode!r}; use 'loss', 'predict' or 'tensor'")

    # ------------------------------------------------------------------
    # training
    # ------------------------------------------------------------------
    def teacher_forward(self, inputs: Tensor):
        """Run the teacher (no grad, fast path) while recording."""
        with self.teacher_recorder.recording():
            return self._fast_path(self.teacher_input(inputs))

    def loss(self, inputs: Tensor, data_samples) -> Dict[str, Tensor]:
        """Student task losses plus one ``distill.<name>`` term per item."""
        try:
            self.teacher_forward(inputs)
            with self.student_recorder.recording():
                losses = self.student(inputs, data_samples, mode='loss')
            target, valid_mask = self._extras(data_samples)
            for item in self.distill_items:
                item.check_batch(inputs.shape[0])
                student, teacher = item.transform(*self._features(item))
                kwargs = {}
                if item.loss.requires_target:
                    kwargs['target'] = self._need(target, item, 'labels')
                if item.loss.uses_valid_mask:
                    kwargs['valid_mask'] = self._need(valid_mask, item,
                                                      'a valid-pixel mask')
                losses[f'distill.{item.name}'] = item.loss(
                    student, teacher, **kwargs)
        finally:
            self.student_recorder.reset()
            self.teacher_recorder.reset()
        return losses

    def parse_losses(self, losses: Dict[str, Tensor]):
        """mmengine's ``parse_losses``; with several processes the logged
        values are averaged over ranks (mmengine logs rank 0's own). The
        loss that is back-propagated is this rank's."""
        loss, log_vars = super().parse_losses(losses)
        if dist.get_world_size() > 1:
            values = torch.stack([v.detach().float() for v in
                                  log_vars.values()])
            dist.all_reduce(values, op='mean')
            log_vars = type(log_vars)(zip(log_vars, values))
        return loss, log_vars

    def _extras(self, data_samples):
        if not any(item.loss.requires_target or item.loss.uses_valid_mask
                   for item in self.distill_items):
            return None, None
        return self.targets(data_samples)

    def _need(self, value, item, what):
        if value is None:
            raise ValueError(
                f'distill item {item.name!r}: {type(item.loss).__name__} '
                f'needs {what}, but the batch has none')
        return value

    def _features(self, item: DistillItem):
        """Recorded features of an item, promoted to a common dtype."""
        student = [self.student_recorder.get(s) for s in item.student_specs]
        teacher = [
            self.teacher_recorder.get(s).detach() for s in item.teacher_specs
        ]
        dtype = student[0].dtype
        for t in teacher + student:
            if t.is_floating_point():
                dtype = torch.promote_types(dtype, t.dtype)
        student = [s.to(dtype) for s in student]
        teacher = [t.to(dtype).contiguous() for t in teacher]
        return student, teacher

    @torch.no_grad()
    def extract(self, inputs: Tensor, data_samples=None,
                transformed: bool = False) -> Tuple[Dict, Dict]:
        """Record every item's features on one batch; compute no loss.

        Runs both models in their current train/eval mode under
        ``torch.no_grad()``. ``inputs`` is a preprocessed batch (call
        ``self.data_preprocessor(data, False)`` on a loader's batch first).

        Returns:
            tuple[dict, dict]: Student and teacher features, item name ->
            tensor (or tuple for items with several specs), before the
            transforms unless ``transformed``.
        """
        try:
            self.teacher_forward(inputs)
            with self.student_recorder.recording():
                self.student(inputs, data_samples, mode='tensor')
            s_out, t_out = {}, {}
            for item in self.distill_items:
                student, teacher = self._features(item)
                if transformed:
                    s, t = item.transform(student, teacher)
                else:
                    s, t = item.pack(student, teacher)
                s_out[item.name], t_out[item.name] = s, t
        finally:
            self.student_recorder.reset()
            self.teacher_recorder.reset()
        return s_out, t_out

    # ------------------------------------------------------------------
    # teardown
    # ------------------------------------------------------------------
    def remove_hooks(self) -> None:
        """Detach every feature-capture hook from student and teacher."""
        self.student_recorder.remove()
        self.teacher_recorder.remove()


@contextlib.contextmanager
def _mmkd_scope():
    """Build inside the mmkd scope when no default scope is set."""
    if DefaultScope.get_current_instance() is None:
        with DefaultScope.overwrite_default_scope('mmkd'):
            yield
    else:
        yield
