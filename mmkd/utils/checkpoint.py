"""Safe checkpoint loading and atomic checkpoint saving for mmengine.

Loading
-------
torch >= 2.6 loads with ``weights_only=True`` by default, but mmengine 0.10.7
calls bare ``torch.load`` and its own runner checkpoints carry non-tensor
objects (``message_hub`` state made of :class:`mmengine.logging.HistoryBuffer`
objects holding numpy arrays, numpy scalars in runtime info, ...), so resume,
``load_from``, teacher loading and ``mmseg.apis.init_model`` all fail.  Worse,
mmengine's ``http(s)://`` loader goes through
``torch.hub.load_state_dict_from_url``, whose ``weights_only`` defaults to
``False``: a downloaded checkpoint is fully unpickled and can run any code.

:func:`install_safe_checkpoint_loading` fixes both, without ever unpickling
arbitrary code:

* it allow-lists exactly the types mmengine checkpoints carry
  (:data:`SAFE_CHECKPOINT_GLOBALS`) with
  :func:`torch.serialization.add_safe_globals`;
* it re-registers every :class:`mmengine.runner.CheckpointLoader` scheme
  (``''``, ``http(s)://``, ``torchvision://``/``modelzoo://``,
  ``open-mmlab://``/``openmmlab://``, ``mmcls://``, ``pavi://``, ``s3://``/
  ``petrel://``) with loaders that always pass ``weights_only=True``
  explicitly, and turns the weights-only unpickler's
  :class:`pickle.UnpicklingError` into :class:`UnsafeCheckpointError`, whose
  message names the offending global(s) and says how to proceed if the file
  is trusted.  Loaders registered by other packages are wrapped so that their
  errors are translated the same way.

Saving
------
mmengine writes checkpoints with ``open(path, 'wb').write(...)`` in
``LocalBackend.put``: a crash (or a full disk) mid-write leaves a truncated
file under the final name, which the next resume then picks up.
:class:`AtomicLocalBackend` replaces mmengine's ``'local'`` file backend (and
the deprecated ``FileClient`` ``'disk'`` backend): data goes to a temporary
file in the same directory, is flushed and fsync'ed, then moved over the final
name with :func:`os.replace`, so a checkpoint is there whole or not at all.
:func:`atomic_torch_save` does the same for mmkd's own tools.

Nothing here runs at import; ``mmkd/__init__.py`` calls
:func:`install_safe_checkpoint_loading`.
"""
import functools
import io
import logging
import os
import os.path as osp
import pickle
import re
import tempfile
import threading
from contextlib import contextmanager
from tempfile import TemporaryDirectory
from typing import Any, BinaryIO, Callable, Iterator, List, Optional, Union
from urllib.parse import urlparse

import numpy as np
import torch
from mmengine.fileio import FileClient, HardDiskBackend, LocalBackend
from mmengine.fileio import io as _mmengine_fileio_io
from mmengine.fileio import register_backend
from mmengine.fileio.backends import backends as _mmengine_backends
from mmengine.fileio.backends import \
    prefix_to_backends as _mmengine_prefix_to_backends
from mmengine.logging import HistoryBuffer, print_log
from mmengine.runner import checkpoint as _mmengine_ckpt
from mmengine.runner.checkpoint import CheckpointLoader

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'SAFE_CHECKPOINT_GLOBAL_NAMES',
    'UnsafeCheckpointError', 'install_safe_checkpoint_loading', 'safe_load',
    'AtomicLocalBackend', 'atomic_torch_save'
]

PathLike = Union[str, 'os.PathLike[str]']

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


def _missing_checkpoint_error(filename: str) -> FileNotFoundError:
    abspath = osp.abspath(filename)
    return FileNotFoundError(
        f'Checkpoint file not found: {filename!r}'
        + (f' (resolved to {abspath!r})' if abspath != filename else '') +
        '. If it is a pretrained or teacher checkpoint, download it first '
        '(the config usually gives its URL; an http(s):// URL can also be '
        'used directly and is downloaded to the torch hub cache), or point '
        'the config at the file you have, e.g. `--cfg-options '
        'model.teacher_checkpoint=/path/to/teacher.pth` for a teacher or '
        '`--cfg-options load_from=/path/to/ckpt.pth` / `--resume '
        '/path/to/ckpt.pth` for the model being trained.')


# ---------------------------------------------------------------------------
# Safe loaders, one per mmengine CheckpointLoader scheme
# ---------------------------------------------------------------------------


def _weights_only_load(f: Any, map_location=None, source=None):
    """``torch.load(f, weights_only=True)``, refusals as UnsafeCheckpointError.
    """
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError.from_unpickling_error(
            exc, source=source or (f if isinstance(f, str) else None),
            file=f) from exc


def _mark(loader: Callable, original: Optional[Callable] = None) -> Callable:
    loader._mmkd_safe_loader = True  # type: ignore[attr-defined]
    loader._mmkd_original = original  # type: ignore[attr-defined]
    return loader


# The function names matter: CheckpointLoader logs ``__name__[10:]`` as the
# backend name ("Loads checkpoint by local backend ...").


def load_from_local(filename, map_location=None):
    """Load a local checkpoint with ``weights_only=True``."""
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise _missing_checkpoint_error(filename)
    return _weights_only_load(filename, map_location, source=filename)


def _hub_cached_file(url: str, model_dir: Optional[str]) -> str:
    """Where ``torch.hub.load_state_dict_from_url`` caches ``url``."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def _load_url_weights_only(url, model_dir, map_location, progress):
    try:
        # mmengine.runner.checkpoint.load_url is torch.hub's
        # load_state_dict_from_url, whose weights_only defaults to False.
        return _mmengine_ckpt.load_url(
            url,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=True)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError.from_unpickling_error(
            exc, source=url, file=_hub_cached_file(url, model_dir)) from exc


def load_from_http(filename,
                   map_location=None,
                   model_dir=None,
                   progress=os.isatty(0)):
    """Download (rank 0 first) and load a checkpoint with weights_only=True.
    """
    rank, world_size = _mmengine_ckpt.get_dist_info()
    if rank == 0:
        checkpoint = _load_url_weights_only(filename, model_dir, map_location,
                                            progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = _load_url_weights_only(filename, model_dir,
                                                map_location, progress)
    return checkpoint


def load_from_torchvision(filename, map_location=None):
    """``torchvision://name`` / ``modelzoo://name``, loaded weights-only."""
    model_urls = _mmengine_ckpt.get_torchvision_models()
    if filename.startswith('modelzoo://'):
        print_log(
            'The URL scheme of "modelzoo://" is deprecated, please '
            'use "torchvision://" instead',
            logger='current',
            level=logging.WARNING)
        model_name = filename[11:]
    else:
        model_name = filename[14:]
    return load_from_http(model_urls[model_name], map_location=map_location)


def load_from_openmmlab(filename, map_location=None):
    """``open-mmlab://name`` / ``openmmlab://name``, loaded weights-only."""
    model_urls = _mmengine_ckpt.get_external_models()
    prefix_str = 'open-mmlab://'
    if filename.startswith(prefix_str):
        model_name = filename[13:]
    else:
        model_name = filename[12:]
        prefix_str = 'openmmlab://'
    deprecated_urls = _mmengine_ckpt.get_deprecated_model_names()
    if model_name in deprecated_urls:
        print_log(
            f'{prefix_str}{model_name} is deprecated in favor '
            f'of {prefix_str}{deprecated_urls[model_name]}',
            logger='current',
            level=logging.WARNING)
        model_name = deprecated_urls[model_name]
    model_url = model_urls[model_name]
    if model_url.startswith(('http://', 'https://')):
        return load_from_http(model_url, map_location=map_location)
    return load_from_local(
        osp.join(_mmengine_ckpt._get_mmengine_home(), model_url),
        map_location)


def load_from_mmcls(filename, map_location=None):
    """``mmcls://name``, loaded weights-only."""
    model_urls = _mmengine_ckpt.get_mmcls_models()
    checkpoint = load_from_http(
        model_urls[filename[8:]], map_location=map_location)
    return _mmengine_ckpt._process_mmcls_checkpoint(checkpoint)


def load_from_pavi(filename, map_location=None):
    """``pavi://path``, loaded weights-only."""
    assert filename.startswith('pavi://'), \
        f'Expected filename startswith `pavi://`, but get {filename}'
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError(
            'Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[7:])
    with TemporaryDirectory() as tmp_dir:
        downloaded_file = osp.join(tmp_dir, model.name)
        model.download(downloaded_file)
        return _weights_only_load(downloaded_file, map_location, filename)


def load_from_ceph(filename, map_location=None, backend='petrel'):
    """``s3://`` / ``petrel://`` paths, loaded weights-only."""
    file_backend = _mmengine_ckpt.get_file_backend(
        filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return _weights_only_load(buffer, map_location, filename)


# mmengine's original loader -> its weights-only replacement.
_SAFE_REPLACEMENTS = {
    _mmengine_ckpt.load_from_local: load_from_local,
    _mmengine_ckpt.load_from_http: load_from_http,
    _mmengine_ckpt.load_from_torchvision: load_from_torchvision,
    _mmengine_ckpt.load_from_openmmlab: load_from_openmmlab,
    _mmengine_ckpt.load_from_mmcls: load_from_mmcls,
    _mmengine_ckpt.load_from_pavi: load_from_pavi,
    _mmengine_ckpt.load_from_ceph: load_from_ceph,
}
for _orig, _safe in _SAFE_REPLACEMENTS.items():
    _mark(_safe, _orig)

# The schemes mmengine 0.10.7 registers, registered again should another
# package have removed them.
_MMENGINE_SCHEMES = {
    '': load_from_local,
    'http://': load_from_http,
    'https://': load_from_http,
    'modelzoo://': load_from_torchvision,
    'torchvision://': load_from_torchvision,
    'open-mmlab://': load_from_openmmlab,
    'openmmlab://': load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    'pavi://': load_from_pavi,
    r'(\S+\:)?s3://': load_from_ceph,
    r'(\S+\:)?petrel://': load_from_ceph,
}


def _wrap_foreign_loader(loader: Callable) -> Callable:
    """Translate refusals of a loader mmkd does not know (another package's).

    Such a loader calls ``torch.load`` itself, which is weights-only by
    default on torch >= 2.6; only its errors are made explicit.
    """

    @functools.wraps(loader)
    def wrapper(filename, map_location=None, *args, **kwargs):
        try:
            return loader(filename, map_location, *args, **kwargs)
        except UnsafeCheckpointError:
            raise
        except pickle.UnpicklingError as exc:
            raise UnsafeCheckpointError.from_unpickling_error(
                exc, source=filename,
                file=filename if isinstance(filename, str) else None) from exc

    return _mark(wrapper, loader)


# ---------------------------------------------------------------------------
# Atomic writes
# ---------------------------------------------------------------------------

_umask_cache: List[int] = []


def _umask() -> int:
    if not _umask_cache:
        value = None
        try:  # Linux >= 4.7: read it without changing it (thread-safe)
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith('Umask:'):
                        value = int(line.split()[1], 8)
                        break
        except (OSError, ValueError):
            pass
        if value is None:
            value = os.umask(0o022)
            os.umask(value)
        _umask_cache.append(value)
    return _umask_cache[0]


def _fsync_dir(dirname: str) -> None:
    """Persist a rename; not supported on every OS / file system."""
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def _atomic_open(filepath: PathLike) -> Iterator[BinaryIO]:
    """Open a temp file next to ``filepath``; on success move it there.

    The temp file (``.<name>.<random>.tmp`` in the same directory, hence the
    same file system) is flushed and fsync'ed before ``os.replace``, so
    ``filepath`` holds either its previous content or the complete new one,
    even across a crash or power loss.  On an exception the temp file is
    removed and ``filepath`` is left untouched.  A process killed outright
    may leave the temp file behind, never a truncated ``filepath``.
    """
    filepath = os.fspath(filepath)
    # Like open(): write through a symlink rather than replacing the link.
    target = osp.realpath(filepath) if osp.islink(filepath) else filepath
    dirname = osp.dirname(osp.abspath(target))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        prefix=f'.{osp.basename(target)}.', suffix='.tmp', dir=dirname)
    try:
        with os.fdopen(fd, 'wb') as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        # mkstemp creates the file 0o600; give it the mode open() would.
        try:
            mode = os.stat(target).st_mode & 0o7777
        except OSError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp_path, mode)
        os.replace(tmp_path, target)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


def _atomic_write_bytes(data: bytes, filepath: PathLike) -> None:
    with _atomic_open(filepath) as f:
        f.write(data)


def atomic_torch_save(obj: Any, path: PathLike, **kwargs) -> None:
    """``torch.save(obj, path, **kwargs)``, written whole or not at all."""
    with _atomic_open(path) as f:
        torch.save(obj, f, **kwargs)


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``.

    Registered as the ``'local'`` backend (prefix ``''``) by
    :func:`install_safe_checkpoint_loading`, so ``save_checkpoint``,
    ``runner.save_checkpoint``, ``CheckpointHook`` and ``mmengine.fileio.put``
    /``dump`` write local files atomically.
    """

    def put(self, obj: bytes, filepath: PathLike) -> None:
        _atomic_write_bytes(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: PathLike,
                 encoding: str = 'utf-8') -> None:
        _atomic_write_bytes(obj.encode(encoding), filepath)


class _AtomicHardDiskBackend(HardDiskBackend):
    """The same for the deprecated ``FileClient`` (``file_client_args``)."""

    put = AtomicLocalBackend.put
    put_text = AtomicLocalBackend.put_text


def _install_atomic_backends() -> None:
    if _mmengine_backends.get('local') is not AtomicLocalBackend or \
            _mmengine_prefix_to_backends.get('') is not AtomicLocalBackend:
        register_backend('local', AtomicLocalBackend, force=True, prefixes='')
    # get_file_backend(..., enable_singleton=True) caches instances by
    # '<prefix>:<backend_args json>': drop local backends created before the
    # override, or fileio.put/get_text etc. would keep the non-atomic one.
    cache = _mmengine_fileio_io.backend_instances
    for key, backend in list(cache.items()):
        if isinstance(backend, LocalBackend) and \
                not isinstance(backend, AtomicLocalBackend):
            cache.pop(key, None)
    if FileClient._backends.get('disk') is not _AtomicHardDiskBackend:
        # force=True also drops cached FileClient instances of the old one.
        FileClient.register_backend('disk', _AtomicHardDiskBackend, force=True)


# ---------------------------------------------------------------------------
# Installation and convenience API
# ---------------------------------------------------------------------------

_install_lock = threading.Lock()


def install_safe_checkpoint_loading() -> None:
    """Make mmengine load checkpoints weights-only and save them atomically.

    Idempotent and cheap: may be called any number of times (again after
    importing a package that registers its own loaders, to wrap those too).

    * allow-lists :data:`SAFE_CHECKPOINT_GLOBALS` for ``weights_only`` loads;
    * re-registers (``force=True``) every ``CheckpointLoader`` scheme with a
      loader that passes ``weights_only=True`` explicitly and raises
      :class:`UnsafeCheckpointError` for non-allow-listed pickled objects;
    * registers :class:`AtomicLocalBackend` as mmengine's local backend.
    """
    with _install_lock:
        # A set inside torch: adding the same entries again is a no-op.
        torch.serialization.add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))

        schemes = dict(CheckpointLoader._schemes)
        for prefix, loader in _MMENGINE_SCHEMES.items():
            schemes.setdefault(prefix, loader)
        for prefix, loader in schemes.items():
            if getattr(loader, '_mmkd_safe_loader', False):
                new_loader = loader
            elif loader in _SAFE_REPLACEMENTS:
                new_loader = _SAFE_REPLACEMENTS[loader]
            else:
                new_loader = _wrap_foreign_loader(loader)
            if CheckpointLoader._schemes.get(prefix) is not new_loader:
                CheckpointLoader.register_scheme(
                    prefix, new_loader, force=True)

        _install_atomic_backends()


def safe_load(path_or_url: PathLike, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint from a path or any mmengine URL scheme, safely.

    Goes through mmengine's ``CheckpointLoader`` (local paths, ``http(s)://``,
    ``torchvision://``, ``open-mmlab://``, ``mmcls://``, ``s3://``, ...) after
    making sure :func:`install_safe_checkpoint_loading` has run.

    Raises:
        FileNotFoundError: a local file does not exist.
        UnsafeCheckpointError: the checkpoint holds non-allow-listed objects.
    """
    install_safe_checkpoint_loading()
    return _mmengine_ckpt._load_checkpoint(
        os.fspath(path_or_url), map_location=map_location, logger='current')
