"""Exact resume: a distillation run killed after a checkpoint and resumed
with ``resume=True`` logs the same per-iteration losses as a run that was
never interrupted (same seed, deterministic mode)."""
import copy

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.runner import Runner
from tiny_runs import (logged_scalars, loss_terms, make_data, runtime,
                       tiny_distiller, unique_name)

from mmkd.engine.hooks.exact_resume_hook import capture_rng, restore_rng
from mmkd.registry import HOOKS

MAX_ITERS = 6
KILL_AT = 5  # 1-based: iteration 4 was checkpointed, 5 never finishes


class Killed(Exception):
    pass


@HOOKS.register_module(force=True)
class _KillAtIterHook(Hook):
    """Stand-in for a killed process: dies as iteration ``at`` starts."""

    def __init__(self, at):
        self.at = at

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        if runner.iter + 1 == self.at:
            raise Killed


@HOOKS.register_module(force=True)
class _CountingHook(Hook):
    """A hook with state (``state_dict``/``load_state_dict``)."""

    def __init__(self):
        self.count = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        self.count += 1

    def state_dict(self):
        return dict(count=self.count)

    def load_state_dict(self, state):
        self.count = state['count']


@pytest.fixture(autouse=True)
def _deterministic_off():
    yield
    torch.use_deterministic_algorithms(False)  # Runner turned it on


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return make_data(str(tmp_path_factory.mktemp('resume_data')))


def config(data_root, work_dir, exact=True, kill=False, resume=False):
    hooks = [dict(type='_CountingHook')]
    if exact:
        hooks.append(dict(type='ExactResumeHook'))
    if kill:
        hooks.append(dict(type='_KillAtIterHook', at=KILL_AT))
    cfg = runtime(data_root, max_iters=MAX_ITERS, checkpoint_interval=2,
                  val_interval=2, custom_hooks=hooks)
    cfg.update(model=tiny_distiller(), work_dir=str(work_dir),
               resume=resume, experiment_name=unique_name('resume'))
    return copy.deepcopy(cfg)


def train(cfg):
    runner = Runner.from_cfg(Config(cfg))
    runner.train()
    return runner


def killed_and_resumed(data_root, work_dir, exact):
    with pytest.raises(Killed):
        train(config(data_root, work_dir, exact, kill=True))
    assert (work_dir / 'iter_4.pth').is_file()
    assert not (work_dir / 'iter_6.pth').exists()
    return train(config(data_root, work_dir, exact, resume=True))


_REFERENCES = {}


def uninterrupted(data_root, tmp_path_factory, exact):
    """Per-iteration scalars of a run that was never stopped (cached)."""
    if exact not in _REFERENCES:
        work_dir = tmp_path_factory.mktemp(f'uninterrupted_{exact}')
        train(config(data_root, work_dir, exact))
        _REFERENCES[exact] = logged_scalars(str(work_dir))
    return _REFERENCES[exact]


@pytest.fixture
def reference(data_root, tmp_path_factory):
    return lambda exact: uninterrupted(data_root, tmp_path_factory, exact)


def test_resumed_losses_equal_uninterrupted(data_root, reference, tmp_path):
    reference = reference(True)
    runner = killed_and_resumed(data_root, tmp_path, exact=True)
    resumed = logged_scalars(str(tmp_path))
    assert sorted(reference) == sorted(resumed) == list(
        range(1, MAX_ITERS + 1))
    for step in range(1, MAX_ITERS + 1):
        expected, got = loss_terms(reference[step]), loss_terms(resumed[step])
        assert 'distill.loss_ickd' in got and 'decode.loss_ce' in got
        assert got == expected, f'iteration {step}'
    # the hook's own state came back: 4 iterations before, 2 after
    counting = next(h for h in runner.hooks if type(h).__name__ ==
                    '_CountingHook')
    assert counting.count == MAX_ITERS
    ckpt = torch.load(str(tmp_path / 'iter_6.pth'), weights_only=True)
    assert ckpt['hook_states'] == {'_CountingHook': {'count': MAX_ITERS}}
    assert len(ckpt['meta']['rng_states']) == 1  # one state per rank


def test_without_the_hook_resume_is_not_exact(data_root, reference,
                                              tmp_path):
    """The control: mmengine alone re-seeds and replays the skipped
    batches, so the resumed iterations draw other random numbers."""
    reference = reference(False)
    killed_and_resumed(data_root, tmp_path, exact=False)
    resumed = logged_scalars(str(tmp_path))
    for step in range(1, KILL_AT):
        assert loss_terms(resumed[step]) == loss_terms(reference[step])
    assert any(
        loss_terms(resumed[step]) != loss_terms(reference[step])
        for step in range(KILL_AT, MAX_ITERS + 1))


def test_rng_state_round_trip():
    state = capture_rng()
    expected = (np.random.rand(), torch.rand(1).item())
    np.random.rand(7)
    torch.rand(3)
    restore_rng(state)
    assert (np.random.rand(), torch.rand(1).item()) == expected
