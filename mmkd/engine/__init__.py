from .cpu_distributed import prepare_cpu_distributed, sync_bn_to_bn
from .hooks import *  # noqa: F401,F403

__all__ = ['prepare_cpu_distributed', 'sync_bn_to_bn']
