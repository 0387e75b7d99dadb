"""Utilities.  Importing this package has no side effects;
``mmkd/__init__.py`` calls :func:`install_safe_checkpoint_loading`."""
from .atomic_backends import AtomicLocalBackend
from .atomic_io import (atomic_open, atomic_torch_save, atomic_write_bytes,
                        atomic_write_json, atomic_write_text)
from .checkpoint import install_safe_checkpoint_loading
from .plain import canonical, to_plain
from .safe_globals import (SAFE_CHECKPOINT_GLOBAL_NAMES,
                           SAFE_CHECKPOINT_GLOBALS, UnsafeCheckpointError)
from .safe_loading import safe_load

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'SAFE_CHECKPOINT_GLOBAL_NAMES',
    'UnsafeCheckpointError', 'install_safe_checkpoint_loading', 'safe_load',
    'AtomicLocalBackend', 'atomic_open', 'atomic_torch_save',
    'atomic_write_bytes', 'atomic_write_json', 'atomic_write_text',
    'canonical', 'to_plain'
]
