"""The student of a distiller config: its config and its weights, without
building (or downloading) the teacher."""
import copy
from typing import Dict, Optional

from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from mmkd.utils.tool_utils import strip_pretrained

STUDENT_PREFIX = 'student.'


def distiller_class(cfg: Config) -> Optional[type]:
    """The :class:`Distiller` subclass ``cfg.model`` builds, or None.

    Resolved through mmkd's registry, so any registered distiller counts
    (not only the names ``SegDistiller`` / ``ClsDistiller``).
    """
    from mmkd.models.distillers import Distiller
    from mmkd.registry import MODELS
    model = cfg.get('model')
    if not isinstance(model, dict):
        return None
    model_type = model.get('type')
    if isinstance(model_type, type):
        cls = model_type
    else:
        with DefaultScope.overwrite_default_scope('mmkd'):
            cls = MODELS.get(model_type) if model_type else None
    if isinstance(cls, type) and issubclass(cls, Distiller):
        return cls
    return None


def is_distiller_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is a distiller."""
    return distiller_class(cfg) is not None


def _needs_distiller(hook_cfg) -> bool:
    from mmkd.registry import HOOKS
    with DefaultScope.overwrite_default_scope('mmkd'):
        cls = HOOKS.get(hook_cfg.get('type')) if isinstance(
            hook_cfg, dict) else None
    return bool(getattr(cls, 'needs_distiller', False))


def student_eval_config(cfg: Config) -> Config:
    """A config that evaluates the student of a distiller config.

    The model becomes the student (with the distiller's data
    preprocessor); hooks that need a distiller (``needs_distiller``, e.g.
    ``TeacherEvalHook``) are dropped; the teacher is never built. The
    default scope is kept, so mmkd types in the student still resolve.
    """
    if not is_distiller_config(cfg):
        raise ValueError(
            f"expected a distiller config, got model type "
            f"{cfg.model.get('type')!r}")
    out = copy.deepcopy(cfg)
    student = copy.deepcopy(cfg.model.student)
    if cfg.model.get('data_preprocessor') is not None:
        student['data_preprocessor'] = copy.deepcopy(
            cfg.model.data_preprocessor)
    strip_pretrained(student)
    out.model = student
    out.custom_hooks = [
        h for h in out.get('custom_hooks', []) if not _needs_distiller(h)
    ]
    if 'tta_model' in out and isinstance(out.tta_model, (dict, ConfigDict)):
        out.tta_model.pop('module', None)
    return out


def split_student_state(ckpt, source: str,
                        prefix: str = STUDENT_PREFIX) -> Dict:
    """The ``prefix`` weights of a loaded checkpoint, prefix removed.

    Args:
        ckpt: What ``_load_checkpoint`` returned (a dict with or without
            ``state_dict``).
        source (str): Where it came from, for the error message.
        prefix (str): Key prefix of the student. Defaults to ``'student.'``.

    Raises:
        ValueError: If the checkpoint has no weights under ``prefix``.
    """
    state = ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else {}
    student = {
        key[len(prefix):]: value
        for key, value in state.items() if key.startswith(prefix)
    }
    if not student:
        raise ValueError(
            f'{source} has no {prefix!r} weights; pass a checkpoint saved '
            f'while training a distiller')
    return student


def student_state_dict(checkpoint: str) -> Dict:
    """The ``student.*`` weights of a distiller checkpoint, prefix removed.

    Loaded with mmengine's ``_load_checkpoint`` (weights-only once mmkd is
    imported).

    Raises:
        ValueError: If the checkpoint has no student weights.
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    return split_student_state(
        _load_checkpoint(checkpoint, map_location='cpu'), checkpoint)


def load_student(model, checkpoint: str) -> None:
    """Load a distiller checkpoint's student weights into ``model``, strictly.

    Raises:
        RuntimeError: Naming missing and unexpected keys when the student
            config does not fit the checkpoint.
    """
    state = student_state_dict(checkpoint)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith('num_batches_tracked')]
    if missing or unexpected:
        raise RuntimeError(
            f'the student weights in {checkpoint} do not fit the student '
            f'config: {len(missing)} missing keys {missing[:3]}, '
            f'{len(unexpected)} unexpected keys {unexpected[:3]}; pass the '
            f'config the checkpoint was trained with')
