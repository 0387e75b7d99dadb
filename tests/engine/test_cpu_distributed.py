"""prepare_cpu_distributed: a no-op in one process; clear refusal of
launchers that need CUDA; SyncBN configs to BN. The torchrun path itself
runs in tests/tools/test_dist_train.py."""
import pytest
import torch
from mmengine.config import Config

from mmkd.engine import prepare_cpu_distributed, sync_bn_to_bn


def test_single_process_is_left_alone():
    cfg = Config(dict(launcher='none', model=dict(
        norm_cfg=dict(type='SyncBN'))))
    assert prepare_cpu_distributed(cfg) is False
    assert cfg.model.norm_cfg.type == 'SyncBN'


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_slurm_without_gpus_names_the_fix():
    cfg = Config(dict(launcher='slurm', model=dict()))
    with pytest.raises(RuntimeError, match='--launcher slurm without GPUs: '
                       ".*start the processes with torchrun"):
        prepare_cpu_distributed(cfg)


def test_sync_bn_to_bn_walks_nested_configs():
    cfg = dict(backbone=dict(norm_cfg=dict(type='SyncBN', requires_grad=1)),
               heads=[dict(norm_cfg=dict(type='MMSyncBN')),
                      dict(norm_cfg=dict(type='BN'))])
    assert sync_bn_to_bn(cfg) == 2
    assert cfg['backbone']['norm_cfg'] == dict(type='BN', requires_grad=1)
    assert [h['norm_cfg']['type'] for h in cfg['heads']] == ['BN', 'BN']
