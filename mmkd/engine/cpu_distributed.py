"""Multi-process training without GPUs (gloo), through mmengine's Runner.

mmengine 0.10.7 assumes a GPU per process in three places, each fixed
here on a machine without CUDA:

* its ``pytorch`` launcher calls ``torch.cuda.set_device(local_rank)``
  before ``init_process_group``: the process group is created here
  instead (gloo, from torchrun's environment), and the Runner, finding it
  initialised, skips its own;
* it wraps the model in ``MMDistributedDataParallel`` with
  ``device_ids=[LOCAL_RANK]``, which DDP refuses for a CPU module: the
  config gets a ``model_wrapper_cfg`` with ``device_ids=None`` (keeping
  ``find_unused_parameters`` and ``broadcast_buffers=False``);
* ``SyncBatchNorm`` only runs on GPUs in training mode: SyncBN norm
  configs become BN (statistics per process; a warning says so).
"""
import logging
import os

import torch
import torch.distributed as torch_dist
from mmengine.logging import print_log

#: Norm types that synchronise over processes (torch's and mmcv's).
SYNC_BN_TYPES = ('SyncBN', 'MMSyncBN', 'SyncBatchNorm')


def sync_bn_to_bn(cfg) -> int:
    """Turn every SyncBN norm config in ``cfg`` into BN, in place.

    Returns:
        int: How many were changed.
    """
    changed = 0
    if isinstance(cfg, dict):
        if cfg.get('type') in SYNC_BN_TYPES:
            cfg['type'] = 'BN'
            changed += 1
        for value in cfg.values():
            changed += sync_bn_to_bn(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            changed += sync_bn_to_bn(value)
    return changed


def prepare_cpu_distributed(cfg) -> bool:
    """Adapt ``cfg`` (and the process) for multi-process CPU training.

    Does nothing in a single process or when CUDA is available.

    Args:
        cfg (Config): A tool config with ``launcher`` set.

    Returns:
        bool: Whether the config was adapted.

    Raises:
        RuntimeError: A launcher other than ``pytorch`` (torchrun) on a
            machine without GPUs.
    """
    launcher = cfg.get('launcher', 'none')
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher != 'pytorch':
        raise RuntimeError(
            f'--launcher {launcher} without GPUs: mmengine\'s {launcher} '
            f'launcher needs CUDA. On CPUs start the processes with '
            f'torchrun (tools/dist_train.sh CONFIG NPROC), which uses '
            f'--launcher pytorch; see docs/distributed.md')
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(
            backend='gloo',
            rank=int(os.environ['RANK']),
            world_size=int(os.environ['WORLD_SIZE']))
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    wrapper = dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper.update(cfg.get('model_wrapper_cfg') or {})
    wrapper['device_ids'] = None  # a CPU module
    cfg.model_wrapper_cfg = wrapper
    changed = sync_bn_to_bn(cfg.model)
    if cfg.get('sync_bn'):
        cfg.sync_bn = None  # mmengine would convert BN to SyncBN
        changed += 1
    if changed:
        print_log(
            f'CPU multi-process training: {changed} SyncBN norm config(s) '
            f'turned into BN (SyncBatchNorm needs GPUs); BN statistics are '
            f'computed per process, on its share of the batch',
            logger='current',
            level=logging.WARNING)
    return True
