"""Atomic checkpoint saving for mmengine (local files).

mmengine 0.10.7 writes checkpoints and their pointer file in place:

* ``LocalBackend.put`` / ``put_text`` (``save_checkpoint``,
  ``Runner.save_checkpoint``, ``CheckpointHook``, ``mmengine.fileio.put`` /
  ``dump``) do ``open(path, 'wb').write(...)``;
* ``CheckpointHook._save_checkpoint_with_step`` writes
  ``<work_dir>/last_checkpoint`` (the path ``resume=True`` /
  ``find_latest_checkpoint`` resumes from) with a bare
  ``open(save_file, 'w')``, bypassing the file backends.

A crash or a full disk mid-write leaves a truncated checkpoint, or a
pointer naming half a path, under the final name; the next resume then
fails or picks the wrong file. :func:`install_atomic_backends` routes all
three writes through :func:`mmkd.utils.atomic_io.atomic_open` (temp file,
fsync, ``os.replace``), so each file holds its previous content or the
complete new one.
"""
import builtins
import os
from typing import Union

from mmengine.fileio import FileClient, HardDiskBackend, LocalBackend
from mmengine.fileio import io as _mmengine_fileio_io
from mmengine.fileio import register_backend
from mmengine.fileio.backends import backends as _mmengine_backends
from mmengine.fileio.backends import \
    prefix_to_backends as _mmengine_prefix_to_backends
from mmengine.hooks import checkpoint_hook as _mmengine_checkpoint_hook

from .atomic_io import atomic_open, atomic_write_bytes

__all__ = ['AtomicLocalBackend', 'install_atomic_backends']

PathLike = Union[str, 'os.PathLike[str]']


class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend with atomic ``put`` / ``put_text``.

    Registered as the ``'local'`` backend (prefix ``''``) by
    :func:`install_atomic_backends`, so ``save_checkpoint``,
    ``runner.save_checkpoint``, ``CheckpointHook`` and
    ``mmengine.fileio.put``/``dump`` write local files atomically.
    """

    def put(self, obj: bytes, filepath: PathLike) -> None:
        atomic_write_bytes(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: PathLike,
                 encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), filepath)


class _AtomicHardDiskBackend(HardDiskBackend):
    """The same for the deprecated ``FileClient`` (``file_client_args``)."""

    put = AtomicLocalBackend.put
    put_text = AtomicLocalBackend.put_text


def _checkpoint_hook_open(file, mode='r', *args, **kwargs):
    """``open`` as seen by ``mmengine.hooks.checkpoint_hook``.

    Whole-file writes (``'w'``, ``'wt'``, ``'wb'``, used there only for the
    ``last_checkpoint`` pointer, always in a ``with`` statement) go through
    :func:`~mmkd.utils.atomic_io.atomic_open`; anything else is the builtin.
    """
    if mode in ('w', 'wt', 'wb') and not args and \
            set(kwargs) <= {'encoding', 'newline'}:
        return atomic_open(file, mode, **kwargs)
    return builtins.open(file, mode, *args, **kwargs)


def _install_checkpoint_pointer_writer() -> None:
    # A module global shadows the builtin for that module's code only.
    if getattr(_mmengine_checkpoint_hook, 'open', None) \
            is not _checkpoint_hook_open:
        _mmengine_checkpoint_hook.open = _checkpoint_hook_open


def install_atomic_backends() -> None:
    """Make mmengine write local checkpoints and their pointer atomically.

    Idempotent. Registers :class:`AtomicLocalBackend` as mmengine's
    ``'local'`` backend (and as the ``FileClient`` ``'disk'`` backend),
    drops local backend instances cached before, and makes
    ``CheckpointHook``'s ``last_checkpoint`` write atomic.
    """
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
    _install_checkpoint_pointer_writer()
