"""The allow-list of safe checkpoint types and the refusal error.

torch >= 2.6 loads with ``weights_only=True`` by default, but mmengine
runner checkpoints carry non-tensor objects (``message_hub`` state made of
:class:`mmengine.logging.HistoryBuffer` objects holding numpy arrays, numpy
scalars in runtime info, ...). :data:`SAFE_CHECKPOINT_GLOBALS` lists exactly
those types, each a pure-data type whose reconstruction runs no
user-controlled code; :mod:`mmkd.utils.safe_loading` allow-lists them with
:func:`torch.serialization.add_safe_globals`.

When the weights-only unpickler meets anything else it raises
:class:`pickle.UnpicklingError`; mmkd turns that into
:class:`UnsafeCheckpointError`, whose message names the offending global(s)
and says how to proceed if the file is trusted.
"""
import os
import os.path as osp
import pickle
import re
from typing import Any, List, Optional

import numpy as np
import torch
from mmengine.logging import HistoryBuffer

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'SAFE_CHECKPOINT_GLOBAL_NAMES',
    'UnsafeCheckpointError'
]

# ---------------------------------------------------------------------------
# The allow-list
# ---------------------------------------------------------------------------

# numpy's C-level pickle helpers.  numpy < 2 pickles them under
# ``numpy.core.multiarray``, numpy >= 2 under ``numpy._core.multiarray``; both
# names are allow-listed (bound to the installed function) so checkpoints
# written under either numpy major version load under the other.
try:  # numpy >= 2 (numpy 1.26 also ships this forward-compat alias)
    from numpy._core import multiarray as _np_multiarray
except ImportError:  # pragma: no cover - older numpy
    from numpy.core import multiarray as _np_multiarray
_np_reconstruct = _np_multiarray._reconstruct
_np_scalar = _np_multiarray.scalar

# Every numpy dtype *instance* is of a concrete dtype class (numpy >= 1.25:
# ``numpy.dtypes.Float64DType``, ...).  These never appear as GLOBALs in the
# pickle (a dtype is pickled as ``numpy.dtype('f8', False, True)`` followed by
# a BUILD with its state), but the weights-only unpickler only BUILDs (calls
# ``__setstate__`` on) instances whose *type* is allow-listed, so they are
# needed to rebuild any dtype.  Only numeric and bool dtypes: no object
# (``O``), void/structured, string or datetime dtypes.
_NUMPY_NUMERIC_DTYPE_CODES = '?bBhHiIlLqQefdgFDG'
_NUMPY_DTYPE_CLASSES = tuple(
    dict.fromkeys(type(np.dtype(c)) for c in _NUMPY_NUMERIC_DTYPE_CODES))


# HistoryBuffer.__getstate__ pickles the class-level ``_statistics_methods``
# dict, i.e. the functions HistoryBuffer.min/max/current/mean.  Pickle
# protocol 2 (torch.save's default) writes a method of a class as
# ``builtins.getattr(HistoryBuffer, 'min')``.  Allow-listing the real
# ``getattr`` would let a checkpoint fetch any attribute of any allow-listed
# object (``__globals__``, bound methods, ...) and HistoryBuffer.__setstate__
# installs these values process-wide, so ``builtins.getattr`` is bound to
# this stand-in instead: it returns exactly those four functions and refuses
# everything else.
_HISTORY_BUFFER_STATISTICS = ('min', 'max', 'current', 'mean')


def _history_buffer_getattr(obj, name):
    """``builtins.getattr`` for weights-only loads: HistoryBuffer's default
    statistics methods only."""
    if obj is HistoryBuffer and name in _HISTORY_BUFFER_STATISTICS:
        return getattr(HistoryBuffer, name)
    what = getattr(obj, '__qualname__', None)
    what = f'{getattr(obj, "__module__", "?")}.{what}' if what else \
        type(obj).__name__
    raise pickle.UnpicklingError(
        f'mmkd refused builtins.getattr({what}, {name!r}): only getattr('
        f'HistoryBuffer, {"|".join(map(repr, _HISTORY_BUFFER_STATISTICS))})'
        ' is allowed')


def _global_name(entry) -> str:
    """The ``module.qualname`` a pickle GLOBAL uses for an allow-list entry."""
    if isinstance(entry, tuple):
        return entry[1]
    return f'{entry.__module__}.{entry.__qualname__}'


#: The types mmengine checkpoints carry beyond what torch's weights-only
#: unpickler allows by default (tensors, Parameters, torch dtypes/devices/
#: sizes, dict/OrderedDict/list/tuple/set, str/bytes/int/float/bool/None).
#: Each is a pure-data type whose reconstruction runs no user-controlled code.
SAFE_CHECKPOINT_GLOBALS = (
    # mmengine.logging.history_buffer.HistoryBuffer: the value type of
    # ``checkpoint['message_hub']['log_scalars']`` (loss, lr, time, data_time,
    # ... of every runner checkpoint).  Rebuilt by the weights-only unpickler
    # as ``HistoryBuffer.__new__(HistoryBuffer)`` (NEWOBJ)
    # and ``HistoryBuffer.__setstate__(state)`` (``__init__`` is not run);
    # its state is ``max_length`` (int), two numpy arrays and the
    # ``statistics_methods`` dict, all restricted to the entries below.
    HistoryBuffer,
    # builtins.getattr -> _history_buffer_getattr (see above): the
    # ``statistics_methods`` entry of every HistoryBuffer's state.
    (_history_buffer_getattr, 'builtins.getattr'),
    # numpy.ndarray: ``HistoryBuffer._log_history`` / ``_count_history``.
    # An array pickles as ``_reconstruct(numpy.ndarray, (0,), b'b')`` + BUILD
    # with (version, shape, dtype, is_fortran, raw bytes).
    np.ndarray,
    # numpy.core.multiarray._reconstruct: creates the empty array above; it
    # only accepts an ndarray subclass, which must itself be allow-listed.
    (_np_reconstruct, 'numpy.core.multiarray._reconstruct'),
    (_np_reconstruct, 'numpy._core.multiarray._reconstruct'),
    # numpy.dtype: the dtype of those arrays/scalars, pickled as
    # ``numpy.dtype('f8', False, True)`` + BUILD.
    np.dtype,
    # numpy.core.multiarray.scalar: numpy scalars (``np.float64`` ...).  Only
    # *sometimes* present: metrics return numpy scalars (mmseg's IoUMetric
    # gives np.float64) which the runner stores in the message hub runtime
    # info (``best_score`` of CheckpointHook(save_best=...), ``val/mIoU``).
    (_np_scalar, 'numpy.core.multiarray.scalar'),
    (_np_scalar, 'numpy._core.multiarray.scalar'),
    # numpy.dtypes.*DType (numeric + bool only): needed to BUILD the dtype
    # instances above, see ``_NUMPY_DTYPE_CLASSES``.
    *_NUMPY_DTYPE_CLASSES,
)

#: The pickle GLOBAL names covered by :data:`SAFE_CHECKPOINT_GLOBALS`.
SAFE_CHECKPOINT_GLOBAL_NAMES = frozenset(
    _global_name(e) for e in SAFE_CHECKPOINT_GLOBALS)

# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

_ANSI_RE = re.compile(r'\x1b\[[0-9;]*m')
_GLOBAL_PATTERNS = (
    # "Unsupported global: GLOBAL posix.system was not an allowed global ..."
    re.compile(r'GLOBAL (\S+) was not an allowed global'),
    # "Trying to load unsupported GLOBAL posix.system whose module ..."
    re.compile(r'unsupported GLOBAL (\S+) whose module'),
    # "Can only build ... but got <class 'numpy.dtypes.ObjectDType'>"
    re.compile(r"but got <class '([^']+)'>"),
    # _history_buffer_getattr's refusal
    re.compile(r'mmkd refused (builtins\.getattr\(.*?\))(?::|$)'),
    # "Trying to call reduce for unrecognized function <built-in ... x>"
    re.compile(r'unrecognized function (<[^>]+>|\S+)'),
)


def _unpickler_detail(message: str) -> str:
    """The weights-only unpickler's own reason, without torch's advice."""
    message = _ANSI_RE.sub('', message)
    message = message.split('\n\nCheck the documentation of torch.load')[0]
    if 'WeightsUnpickler error:' in message:
        message = message.split('WeightsUnpickler error:', 1)[1]
    elif '\n\n' in message:
        message = message.rsplit('\n\n', 1)[1]
    return ' '.join(message.split())


def _offending_globals(exc: BaseException, file: Any = None) -> List[str]:
    """Name the globals in a checkpoint that are not allow-listed.

    A static scan of the pickle (``get_unsafe_globals_in_checkpoint``) lists
    all of them; it needs a zip-format (torch >= 1.6) checkpoint, so the
    unpickler's message is parsed as a fall-back.
    """
    names: List[str] = []
    if isinstance(file, (str, os.PathLike)) and osp.isfile(file) or (
            hasattr(file, 'seek') and hasattr(file, 'read')):
        try:
            if hasattr(file, 'seek'):
                file.seek(0)
            names = sorted(
                torch.serialization.get_unsafe_globals_in_checkpoint(file))
        except Exception:  # legacy format, unreadable buffer, ...
            names = []
    if not names:
        text = _ANSI_RE.sub('', str(exc))
        for pattern in _GLOBAL_PATTERNS:
            names.extend(m for m in pattern.findall(text) if m not in names)
    return names


class UnsafeCheckpointError(pickle.UnpicklingError):
    """A checkpoint holds pickled objects that are not allow-listed.

    Raised instead of unpickling them (which could run arbitrary code).

    Attributes:
        source (str | None): The checkpoint path or URL.
        unsafe_globals (tuple[str]): The offending ``module.name`` globals.
    """

    def __init__(self,
                 message: str,
                 source: Optional[str] = None,
                 unsafe_globals=()):
        super().__init__(message)
        self.source = source
        self.unsafe_globals = tuple(unsafe_globals)

    @classmethod
    def from_unpickling_error(cls,
                              exc: BaseException,
                              source: Optional[str] = None,
                              file: Any = None) -> 'UnsafeCheckpointError':
        names = _offending_globals(exc, file)
        shown = ', '.join(names) if names else '(not identified)'
        where = f' {source!r}' if source else ''
        path_hint = repr(str(file)) if isinstance(
            file, (str, os.PathLike)) else repr(source or 'ckpt.pth')
        message = (
            f'Refusing to load checkpoint{where}: it contains pickled Python '
            f'objects that are not on the allow-list of safe checkpoint '
            f'types: {shown}. Loading it would import and call '
            f'{"these" if len(names) > 1 else "this"} from the file, i.e. '
            'execute arbitrary code (a checkpoint can run any command this '
            'way), so mmkd loads checkpoints with torch.load(weights_only='
            'True) and only allows tensors, plain containers, numpy arrays/'
            'scalars and mmengine HistoryBuffer; the offending global(s) '
            'were not imported or called.\n'
            'If, and only if, you trust this file and its origin, either:\n'
            '  (1) re-save just its weights once, in a trusted session, and '
            'load the new file instead:\n'
            f'        ckpt = torch.load({path_hint}, map_location="cpu", '
            'weights_only=False)  # runs the pickled code!\n'
            '        torch.save({"state_dict": ckpt.get("state_dict", ckpt)}'
            ', "clean.pth")\n'
            '  (2) or, if a listed global is a plain data class you trust, '
            'allow-list it before loading:\n'
            '        torch.serialization.add_safe_globals([TheClass])\n'
            'Never do either for a checkpoint of unknown origin.\n'
            f'Weights-only unpickler: {_unpickler_detail(str(exc))}')
        return cls(message, source=source, unsafe_globals=names)
