"""tools/dist_train.sh with 2 CPU processes (gloo, 127.0.0.1) trains a tiny
distiller: gradients synchronised, teacher outside DDP's reducer, logged
losses averaged over ranks, SyncBN configs run as BN, every rank's random
states in the checkpoint."""
import copy
import os
import os.path as osp
import socket
import subprocess
import sys
import textwrap

import torch
from mmengine.config import Config
from tiny_runs import make_data, runtime, tiny_distiller

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

PROBE = textwrap.dedent('''
    """Test probe: what each rank's DDP wraps, logs and ends with."""
    import os.path as osp

    import torch
    from mmengine.dist import get_rank
    from mmengine.hooks import Hook

    from mmkd.registry import HOOKS


    @HOOKS.register_module()
    class RankProbeHook(Hook):

        def before_train(self, runner):
            ddp = runner.model
            model = ddp.module
            reduced = {id(p) for p in ddp._build_params_for_reducer()[0]}
            trainable = {id(p) for p in model.parameters() if p.requires_grad}
            teacher = {id(p) for p in model.teacher.parameters()}
            self.info = dict(
                wrapper=type(ddp).__name__,
                find_unused_parameters=ddp.find_unused_parameters,
                reduces_all_trainable=reduced == trainable,
                reduces_teacher=bool(reduced & teacher),
                norms=sorted({type(m).__name__ for m in model.modules()
                              if 'Norm' in type(m).__name__}))
            self.logged = []

        def after_train_iter(self, runner, batch_idx, data_batch=None,
                             outputs=None):
            self.logged.append({k: float(v) for k, v in outputs.items()})

        def after_train(self, runner):
            model = runner.model.module
            params = {n: p.detach().clone()
                      for n, p in model.named_parameters() if p.requires_grad}
            torch.save(dict(info=self.info, logged=self.logged,
                            params=params),
                       osp.join(runner.work_dir, f'rank{get_rank()}.pth'))
''')


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def syncbn(model_cfg):
    for key in ('backbone', 'decode_head', 'auxiliary_head'):
        model_cfg[key]['norm_cfg'] = dict(type='SyncBN', requires_grad=True)
    return model_cfg


def test_two_cpu_processes_train_in_sync(tmp_path):
    data_root = make_data(str(tmp_path / 'data'), num_train=8)
    (tmp_path / 'rank_probe_hook.py').write_text(PROBE)
    cfg = runtime(data_root, max_iters=3, checkpoint_interval=3,
                  deterministic=False,
                  custom_hooks=[dict(type='NonFiniteLossHook'),
                                dict(type='ExactResumeHook'),
                                dict(type='RankProbeHook')])
    model = tiny_distiller()
    syncbn(model['student'])
    syncbn(model['teacher'])
    cfg.update(model=model,
               custom_imports=dict(imports=['rank_probe_hook'],
                                   allow_failed_imports=False))
    config = str(tmp_path / 'dist.py')
    Config(copy.deepcopy(cfg)).dump(config)
    work_dir = tmp_path / 'work'
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               MASTER_ADDR='127.0.0.1', CUDA_VISIBLE_DEVICES='',
               OMP_NUM_THREADS='1',
               PYTHONPATH=os.pathsep.join(
                   [str(tmp_path), ROOT, os.environ.get('PYTHONPATH', '')]))
    proc = subprocess.run(
        ['bash', 'tools/dist_train.sh', config, '2', '--work-dir',
         str(work_dir)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert 'SyncBN norm config(s) turned into BN' in out

    ranks = [torch.load(str(work_dir / f'rank{r}.pth'), weights_only=True)
             for r in (0, 1)]
    for rank in ranks:
        info = rank['info']
        assert info['wrapper'] == 'MMDistributedDataParallel'
        assert info['find_unused_parameters'] is False
        assert info['reduces_all_trainable'] and not info['reduces_teacher']
        assert 'SyncBatchNorm' not in info['norms']
    # gradients were synchronised: identical trainable weights at the end
    p0, p1 = ranks[0]['params'], ranks[1]['params']
    assert p0.keys() == p1.keys()
    assert any(k.startswith('distill_items.') for k in p0)  # the connector
    for name in p0:
        assert torch.equal(p0[name], p1[name]), name
    # logged values are averages over ranks, hence the same on both ranks
    assert len(ranks[0]['logged']) == 3
    assert ranks[0]['logged'] == ranks[1]['logged']
    # ExactResumeHook gathered both ranks' random states into rank 0's
    # checkpoint
    ckpt = torch.load(str(work_dir / 'iter_3.pth'), weights_only=True)
    states = ckpt['meta']['rng_states']
    assert len(states) == 2
    assert all({'python', 'numpy', 'torch'} <= set(s) for s in states)
