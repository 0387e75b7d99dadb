"""Utilities.  Importing this package has no side effects;
``mmkd/__init__.py`` calls :func:`install_safe_checkpoint_loading`."""
from .checkpoint import (SAFE_CHECKPOINT_GLOBAL_NAMES, SAFE_CHECKPOINT_GLOBALS,
                         AtomicLocalBackend, UnsafeCheckpointError,
                         atomic_torch_save, install_safe_checkpoint_loading,
                         safe_load)

__all__ = [
    'SAFE_CHECKPOINT_GLOBALS', 'SAFE_CHECKPOINT_GLOBAL_NAMES',
    'UnsafeCheckpointError', 'install_safe_checkpoint_loading', 'safe_load',
    'AtomicLocalBackend', 'atomic_torch_save'
]
