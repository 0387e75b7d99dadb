"""NonFiniteLossHook: a NaN loss stops training with the iteration and the
term named, before that iteration is checkpointed, on every rank."""
import copy
import os
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.multiprocessing as mp
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_runs import make_data, runtime, tiny_distiller, unique_name

from mmkd.engine.hooks import NonFiniteLossError, NonFiniteLossHook
from mmkd.models.losses.base import DistillLoss
from mmkd.registry import MODELS

CONFIGS = Path(__file__).resolve().parents[3] / 'configs'


@MODELS.register_module(force=True)
class _NaNAtCallLoss(DistillLoss):
    """0 until its ``at``-th call (one call per training iteration), then
    ``value``."""

    requires_equal_channels = False

    def __init__(self, at=3, value=float('nan'), loss_weight=1.0):
        super().__init__(loss_weight)
        self.at, self.value, self.calls = at, value, 0

    def compute(self, student, teacher):
        self.calls += 1
        bad = self.calls >= self.at
        return student.mean() * 0 + (self.value if bad else 0.0)


def nan_item(value=float('nan')):
    return dict(name='loss_nan', student='decode_head.conv_seg',
                teacher='decode_head.conv_seg',
                loss=dict(type='_NaNAtCallLoss', at=3, value=value))


@pytest.mark.parametrize('value', [float('nan'), float('inf')])
def test_nan_at_iteration_3_stops_before_its_checkpoint(tmp_path, value):
    data_root = make_data(str(tmp_path / 'data'))
    cfg = runtime(data_root, max_iters=5, checkpoint_interval=1,
                  deterministic=False,
                  custom_hooks=[dict(type='NonFiniteLossHook')])
    cfg.update(model=tiny_distiller([nan_item(value)]),
               work_dir=str(tmp_path / 'work'),
               experiment_name=unique_name('nan'))
    runner = Runner.from_cfg(Config(copy.deepcopy(cfg)))
    with pytest.raises(NonFiniteLossError) as info:
        runner.train()
    message = str(info.value)
    assert message.startswith('non-finite loss at iteration 3: ')
    assert f'distill.loss_nan = {value} on rank 0' in message
    assert 'lower its loss_weight or the learning rate' in message
    assert 'decode.loss_ce =' not in message  # finite terms not blamed
    assert (tmp_path / 'work' / 'iter_2.pth').is_file()
    assert not (tmp_path / 'work' / 'iter_3.pth').exists()


def test_finite_losses_pass(tmp_path):
    hook = NonFiniteLossHook()
    runner = SimpleNamespace(iter=0)
    hook.after_train_iter(runner, 0, outputs=dict(
        loss=torch.tensor(1.0), **{'decode.acc_seg': float('nan')}))


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match='interval must be a positive int'):
        NonFiniteLossHook(interval=0)


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _rank_main(rank, port, out_dir):
    """Rank 1 alone has a NaN term; both ranks must raise at once."""
    import torch.distributed as dist
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=2)
    hook = NonFiniteLossHook()
    value = float('nan') if rank == 1 else 0.5
    outputs = {'loss': torch.tensor(value), 'distill.loss_x':
               torch.tensor(value), 'decode.loss_ce': torch.tensor(0.5)}
    try:
        hook.after_train_iter(SimpleNamespace(iter=6), 6, outputs=outputs)
        result = 'no error'
    except NonFiniteLossError as err:
        result = str(err)
    Path(out_dir, f'rank{rank}.txt').write_text(result)
    dist.destroy_process_group()


def test_every_rank_stops_in_the_same_iteration(tmp_path):
    mp.start_processes(_rank_main, args=(_free_port(), str(tmp_path)),
                       nprocs=2, join=True, start_method='fork')
    for rank in (0, 1):
        message = (tmp_path / f'rank{rank}.txt').read_text()
        assert message.startswith('non-finite loss at iteration 7: ')
        assert 'distill.loss_x = nan on rank 1' in message
        assert 'on rank 0' not in message


def _configs():
    # every runnable config: not the bases, nor the efficacy protocol's
    # profiles (overrides applied to the quickstart's configs)
    return sorted(p for p in CONFIGS.rglob('*.py')
                  if not {'_base_', 'profiles'} & set(p.parts))


@pytest.mark.parametrize('path', _configs(), ids=lambda p: str(
    p.relative_to(CONFIGS)))
def test_on_by_default_in_every_config(path):
    types = [h['type'] for h in Config.fromfile(str(path)).custom_hooks]
    assert 'NonFiniteLossHook' in types and 'ExactResumeHook' in types, (
        f'{path.name}: custom_hooks = {types}; write custom_hooks = '
        f'_base_.custom_hooks + [...] to keep the runtime\'s hooks')
