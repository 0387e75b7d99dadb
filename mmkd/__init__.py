"""mmkd: knowledge distillation for semantic segmentation on OpenMMLab 2.x.

Importing mmkd registers its components in the ``mmkd`` registry scope and
makes mmengine's checkpoint loading work under torch's weights-only
unpickler (see :mod:`mmkd.utils.checkpoint`).
"""
from .utils.checkpoint import install_safe_checkpoint_loading
from .version import __version__

install_safe_checkpoint_loading()

from . import datasets, engine, models  # noqa: E402,F401  register modules

__all__ = ['__version__']
