"""Safe checkpoint loading and atomic checkpoint saving for mmengine.

:func:`install_safe_checkpoint_loading` (called by ``mmkd/__init__.py``)
installs both halves:

* **loading** (:mod:`mmkd.utils.safe_loading`, allow-list in
  :mod:`mmkd.utils.safe_globals`): every mmengine ``CheckpointLoader``
  scheme loads with ``torch.load(weights_only=True)``, with mmengine's own
  checkpoint types allow-listed, and refuses pickled code with
  :class:`UnsafeCheckpointError` (never unpickling it);
* **saving** (:mod:`mmkd.utils.atomic_backends`, built on
  :mod:`mmkd.utils.atomic_io`): local checkpoints and the
  ``last_checkpoint`` pointer are written to a temporary file, fsync'ed and
  moved into place, so they are there whole or not at all.

This module also re-exports the public names of those modules, for code
written against the former single module.
"""
import threading

from .atomic_backends import AtomicLocalBackend, install_atomic_backends
from .atomic_io import atomic_torch_save
from .safe_globals import (SAFE_CHECKPOINT_GLOBAL_NAMES,
                           SAFE_CHECKPOINT_GLOBALS, UnsafeCheckpointError)
from .safe_loading import install_safe_loaders, safe_load

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'SAFE_CHECKPOINT_GLOBAL_NAMES',
    'UnsafeCheckpointError', 'install_safe_checkpoint_loading', 'safe_load',
    'AtomicLocalBackend', 'atomic_torch_save'
]

_install_lock = threading.Lock()


def install_safe_checkpoint_loading() -> None:
    """Make mmengine load checkpoints weights-only and save them atomically.

    Idempotent and cheap: may be called any number of times (again after
    importing a package that registers its own loaders, to wrap those too).
    Runs :func:`mmkd.utils.safe_loading.install_safe_loaders` and
    :func:`mmkd.utils.atomic_backends.install_atomic_backends`.
    """
    with _install_lock:
        install_safe_loaders()
        install_atomic_backends()
