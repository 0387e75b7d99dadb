"""Teacher-side helpers of the distiller: loading, input normalisation,
fast path."""
import contextlib
import logging
import re
from collections import OrderedDict
from typing import Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

#: Default ``teacher_fast_path``; a config's options update it.
TEACHER_FAST_PATH_DEFAULTS = dict(channels_last=True, autocast=None,
                                  compile=False)
#: Default ``teacher_revise_keys``: strip a DDP ``module.`` prefix.
DEFAULT_REVISE_KEYS = ((r'^module\.', ''), )


def load_teacher(teacher: nn.Module, checkpoint: str, strict: bool,
                 revise_keys: Sequence[Tuple[str, str]]) -> None:
    """Load a teacher checkpoint with mmengine, weights-only.

    Uses mmengine's ``_load_checkpoint`` (which ``import mmkd`` routes
    through torch's weights-only unpickler and mmkd's allow-list) and
    ``_load_checkpoint_to_model`` with ``revise_keys``. Before loading,
    the revised keys are compared with the teacher's: with ``strict`` a
    mismatch fails naming missing, unexpected and mis-shaped keys;
    otherwise what fits is loaded and the rest is reported.
    """
    from mmengine.runner.checkpoint import (_load_checkpoint,
                                            _load_checkpoint_to_model)

    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    if not isinstance(ckpt, dict):
        raise RuntimeError(f'teacher checkpoint {checkpoint} holds a '
                           f'{type(ckpt).__name__}, not a state dict')
    state = ckpt.get('state_dict', ckpt)
    revised = {}
    for key, value in state.items():
        for pattern, repl in revise_keys:
            key = re.sub(pattern, repl, key)
        revised[key] = value
    own = teacher.state_dict()
    missing = [
        k for k in own
        if k not in revised and not k.endswith('num_batches_tracked')
    ]
    unexpected = [k for k in revised if k not in own]
    wrong = [
        f'{k}: {tuple(revised[k].shape)} vs {tuple(v.shape)}'
        for k, v in own.items()
        if k in revised and hasattr(revised[k], 'shape')
        and revised[k].shape != v.shape
    ]
    if missing or unexpected or wrong:
        msg = (f'teacher checkpoint {checkpoint} does not match the teacher '
               f'config: {len(missing)} missing keys {missing[:3]}, '
               f'{len(unexpected)} unexpected keys {unexpected[:3]}, '
               f'{len(wrong)} shape mismatches (checkpoint vs model) '
               f'{wrong[:3]}. Check that `teacher` is the model the '
               f'checkpoint was trained with, and teacher_revise_keys for '
               f'key prefixes (e.g. [("^model\\\\.", "")])')
        if strict:
            raise RuntimeError(
                msg + ', or set teacher_strict=False to load what fits.')
        print_log(msg, logger='current', level=logging.WARNING)
        revised = {
            k: v
            for k, v in revised.items()
            if k in own and getattr(v, 'shape', None) == own[k].shape
        }
    _load_checkpoint_to_model(
        teacher, {'state_dict': OrderedDict(revised)}, strict=False,
        revise_keys=[])
    # A loaded teacher must not be re-initialised by init_weights().
    teacher._is_init = True
    print_log(f'distiller: loaded teacher from {checkpoint}',
              logger='current')


# ----------------------------------------------------------------------
# input normalisation
# ----------------------------------------------------------------------
_PAD_KEYS = ('pad_val', 'seg_pad_val', 'size', 'size_divisor',
             'pad_size_divisor')


def _get(cfg, key, default=None):
    if cfg is None:
        return default
    return cfg.get(key, default) if isinstance(cfg, dict) else getattr(
        cfg, key, default)


def _flips(cfg) -> bool:
    """Whether a preprocessor swaps BGR and RGB."""
    return bool(
        _get(cfg, 'bgr_to_rgb', False) or _get(cfg, 'rgb_to_bgr', False)
        or _get(cfg, 'to_rgb', False))


def _norm(cfg, key) -> Optional[Tuple[float, ...]]:
    value = _get(cfg, key)
    return None if value is None else tuple(float(v) for v in value)


class TeacherInput(nn.Module):
    """Turn the student's normalised batch into the teacher's input.

    The distiller preprocesses a batch once, with the student's data
    preprocessor. A teacher trained with another mean, std or channel order
    needs its own normalisation: with ``x_s = (flip_s(raw) - mean_s) /
    std_s`` this computes ``x_t = (flip_t(raw) - mean_t) / std_t``. Padding
    cannot be converted back (the padded area is not marked), so teacher
    and student preprocessors that pad differently fail the build, naming
    both settings.

    Args:
        student_cfg: The distiller's (student's) data preprocessor config.
        teacher_cfg: The teacher's data preprocessor config; None means the
            teacher takes the student's input.
    """

    def __init__(self, student_cfg, teacher_cfg):
        super().__init__()
        self.identity = True
        if teacher_cfg is None or student_cfg is None:
            return
        for key in _PAD_KEYS:
            s, t = _get(student_cfg, key), _get(teacher_cfg, key)
            if t is not None and s is not None and _as_tuple(s) != \
                    _as_tuple(t):
                raise ValueError(
                    f'the teacher data_preprocessor pads with {key}={t!r}, '
                    f'the student data_preprocessor with {key}={s!r}; mmkd '
                    f'feeds both the same padded batch, so make them equal '
                    f'(set teacher.data_preprocessor.{key}={s!r}) or pad '
                    f'in the data pipeline')
        s_mean, s_std = _norm(student_cfg, 'mean'), _norm(student_cfg, 'std')
        t_mean, t_std = _norm(teacher_cfg, 'mean'), _norm(teacher_cfg, 'std')
        s_flip, t_flip = _flips(student_cfg), _flips(teacher_cfg)
        if (s_mean, s_std, s_flip) == (t_mean, t_std, t_flip):
            return
        if (s_mean is None) != (s_std is None) or \
                (t_mean is None) != (t_std is None):
            raise ValueError(
                'data_preprocessor: give both mean and std or neither '
                f'(student mean={s_mean} std={s_std}, teacher mean={t_mean} '
                f'std={t_std})')
        self.identity = False
        channels = len(s_mean or t_mean or (0, 0, 0))
        ones, zeros = (1.0, ) * channels, (0.0, ) * channels
        self.register_buffer('s_mean', _col(s_mean or zeros), False)
        self.register_buffer('s_std', _col(s_std or ones), False)
        self.register_buffer('t_mean', _col(t_mean or zeros), False)
        self.register_buffer('t_std', _col(t_std or ones), False)
        self.swap = s_flip != t_flip
        print_log(
            f'distiller: the teacher normalises its input differently '
            f'(student mean={s_mean} std={s_std} channel swap={s_flip}; '
            f'teacher mean={t_mean} std={t_std} channel swap={t_flip}); '
            f'the teacher gets its own normalised copy of each batch',
            logger='current')

    def forward(self, x: Tensor) -> Tensor:
        if self.identity:
            return x
        # student order: swap_s(raw); undo the student's normalisation
        raw = x * self.s_std.to(x) + self.s_mean.to(x)
        if self.swap:
            raw = raw.flip(1)
        return (raw - self.t_mean.to(x)) / self.t_std.to(x)


def _as_tuple(v):
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _col(values) -> Tensor:
    return torch.tensor(values, dtype=torch.float32).view(1, -1, 1, 1)


# ----------------------------------------------------------------------
# fast path
# ----------------------------------------------------------------------
class TeacherFastPath:
    """Speed options for the teacher's forward only (see the distiller)."""

    def __init__(self, teacher: nn.Module, forward_fn, options: dict):
        options = dict(TEACHER_FAST_PATH_DEFAULTS, **(options or {}))
        unknown = set(options) - set(TEACHER_FAST_PATH_DEFAULTS)
        if unknown:
            raise ValueError(
                f'teacher_fast_path: unknown options {sorted(unknown)}; '
                f'valid: {sorted(TEACHER_FAST_PATH_DEFAULTS)}')
        dtypes = {None: None, 'bf16': torch.bfloat16, 'fp16': torch.float16}
        if options['autocast'] not in dtypes:
            raise ValueError(
                f"teacher_fast_path.autocast must be None, 'bf16' or 'fp16', "
                f"got {options['autocast']!r}")
        self.autocast = dtypes[options['autocast']]
        self.channels_last = bool(options['channels_last'])
        if self.channels_last:
            teacher.to(memory_format=torch.channels_last)
        self.forward_fn = forward_fn
        if options['compile']:
            kwargs = options['compile'] if isinstance(options['compile'],
                                                      dict) else {}
            self.forward_fn = torch.compile(forward_fn, **kwargs)

    def __call__(self, inputs: Tensor):
        if self.channels_last and inputs.dim() == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        autocast = contextlib.nullcontext()
        if self.autocast is not None:
            autocast = torch.autocast(
                device_type=inputs.device.type, dtype=self.autocast)
        with torch.no_grad(), autocast:
            return self.forward_fn(inputs)
