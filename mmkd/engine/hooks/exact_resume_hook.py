"""Make ``--resume`` continue a run exactly where it stopped.

What mmengine 0.10.7 already does on resume: it loads the model (student,
teacher, transforms, losses' parameters and buffers), the optimizer, the
parameter schedulers, the message hub (hooks that keep their state there,
like :class:`TeacherEvalHook`, get it back) and the loop counters, and
re-seeds the random generators with the config's seed.
``IterBasedTrainLoop.run`` then fetches and discards as many batches as
were consumed, so that the sampler and the data-loader workers (seeded per
worker from the config's seed) are where they were.

What it does not do is save the random generators' *states*: after a
resume, Python's, numpy's (random transforms in the main process) and
torch's (dropout, drop-path) generators restart from the seed, and the
discarded batches consume them once more. :class:`ExactResumeHook` closes
that gap.
"""
import random
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import CheckpointHook, Hook
from mmengine.runner import IterBasedTrainLoop

from mmkd.registry import HOOKS

RNG_KEY = 'rng_states'
HOOK_STATES_KEY = 'hook_states'


def capture_rng() -> Dict:
    """This process's Python, numpy, torch (and CUDA) generator states,
    as tensors and plain Python values (safe for weights-only loading)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = dict(
        python=random.getstate(),
        numpy=(kind, torch.from_numpy(keys.astype(np.int64)), int(pos),
               int(has_gauss), float(gauss)),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: Dict) -> None:
    """Set the generators to a :func:`capture_rng` state."""
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, gauss = state['numpy']
    np.random.set_state(
        (kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state['torch'])
    if state.get('cuda') is not None and torch.cuda.is_available() and \
            len(state['cuda']) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state['cuda'])


class _RestoreAfterSkip:
    """Wraps the loop's data iterator: after the ``skip`` batches mmengine
    discards on resume, restores the generators, then steps aside."""

    def __init__(self, loop, skip: int, state: Dict):
        self.loop = loop
        self.inner = loop.dataloader_iterator
        self.left = skip
        self.state = state

    def __iter__(self):
        return self

    def __next__(self):
        batch = next(self.inner)
        self.left -= 1
        if self.left == 0:
            restore_rng(self.state)
            self.loop.dataloader_iterator = self.inner
        return batch

    def __getattr__(self, name):
        return getattr(self.inner, name)


@HOOKS.register_module()
class ExactResumeHook(Hook):
    """Save and restore the random generators' states and hooks' states.

    * When a checkpoint is written, the Python, numpy, torch and CUDA
      generator states of every rank (gathered to rank 0) are stored in
      ``checkpoint['meta']['rng_states']`` (a list indexed by rank).
    * On ``--resume`` each rank gets its own states back right after
      mmengine has discarded the consumed batches, so the next batch is
      drawn, augmented and dropped-out as in a run that never stopped.
      With another number of processes the states are not restored (a
      warning says so): the resumed run is then only statistically alike.
    * Validation is made neutral to training randomness: the generators
      are saved before it and restored after it (the validation loader's
      iterator draws from torch's generator), so the states at a
      checkpoint are those the next training batch starts from.
    * Any hook with ``state_dict()`` and ``load_state_dict()`` methods
      gets its state saved under ``checkpoint['hook_states']`` (keyed by
      class name) and loaded back on resume.

    Together with ``randomness=dict(seed=..., deterministic=True)`` the
    losses of resumed iterations equal those of an uninterrupted run
    (tests/engine/hooks/test_exact_resume_hook.py checks it).
    """

    priority = 'LOW'  # after the LoggerHook, before the CheckpointHook

    def __init__(self):
        self._pending: Optional[List[Dict]] = None
        self._val_state: Optional[Dict] = None
        self._resume_states: Optional[List[Dict]] = None
        self._resume_iter = 0

    # ------------------------------------------------------------------
    # saving
    # ------------------------------------------------------------------
    def _checkpoint_due(self, runner, by_epoch: bool) -> bool:
        """Whether a CheckpointHook may write a checkpoint now."""
        for hook in runner.hooks:
            if not isinstance(hook, CheckpointHook) or \
                    hook.by_epoch != by_epoch:
                continue
            if by_epoch:
                due = hook.every_n_epochs(runner, hook.interval,
                                          hook.save_begin)
                last = runner.epoch + 1 == runner.max_epochs
            else:
                due = hook.every_n_train_iters(runner, hook.interval,
                                               hook.save_begin)
                last = hook.is_last_train_iter(runner)
            if due or (hook.save_last and last) or hook.save_best:
                return True
        return False

    def _gather(self, runner) -> None:
        states = capture_rng()
        self._pending = dist.all_gather_object(states) \
            if dist.get_world_size() > 1 else [states]

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self._checkpoint_due(runner, by_epoch=False):
            self._gather(runner)  # every rank takes part

    def after_train_epoch(self, runner) -> None:
        if self._checkpoint_due(runner, by_epoch=True):
            self._gather(runner)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        states = self._pending
        if states is None or len(states) != dist.get_world_size():
            states = [self._val_state or capture_rng()]
        checkpoint.setdefault('meta', {})[RNG_KEY] = states
        hook_states = {}
        for name, hook in self._stateful_hooks(runner).items():
            hook_states[name] = hook.state_dict()
        if hook_states:
            checkpoint[HOOK_STATES_KEY] = hook_states

    def _stateful_hooks(self, runner) -> Dict[str, Hook]:
        hooks, seen = {}, {}
        for hook in runner.hooks:
            if hook is self or not (callable(getattr(
                    hook, 'state_dict', None)) and callable(
                        getattr(hook, 'load_state_dict', None))):
                continue
            name = type(hook).__name__
            seen[name] = seen.get(name, 0) + 1
            hooks[name if seen[name] == 1 else f'{name}.{seen[name]}'] = hook
        return hooks

    # ------------------------------------------------------------------
    # validation: neutral to training randomness
    # ------------------------------------------------------------------
    def before_val(self, runner) -> None:
        self._val_state = capture_rng()

    def after_val(self, runner) -> None:
        if self._val_state is not None:
            restore_rng(self._val_state)
            self._val_state = None

    # ------------------------------------------------------------------
    # resuming
    # ------------------------------------------------------------------
    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        if not getattr(runner, '_resume', False):
            return  # load_from: new training, fresh generators
        meta = checkpoint.get('meta', {})
        states = meta.get(RNG_KEY)
        self._resume_iter = int(meta.get('iter', 0))
        if states is not None and len(states) != dist.get_world_size():
            runner.logger.warning(
                f'ExactResumeHook: the checkpoint holds the random states '
                f'of {len(states)} process(es), this run has '
                f'{dist.get_world_size()}; they are not restored, so the '
                f'resumed iterations are not an exact continuation')
            states = None
        self._resume_states = states
        saved = checkpoint.get(HOOK_STATES_KEY, {})
        for name, hook in self._stateful_hooks(runner).items():
            if name in saved:
                hook.load_state_dict(saved[name])

    def before_train_epoch(self, runner) -> None:
        states, self._resume_states = self._resume_states, None
        if states is None:
            return
        state = states[dist.get_rank()]
        loop = runner.train_loop
        if isinstance(loop, IterBasedTrainLoop) and runner.iter > 0:
            # mmengine discards runner.iter batches right after this hook
            loop.dataloader_iterator = _RestoreAfterSkip(
                loop, runner.iter, state)
        else:  # epoch-based: each epoch starts a fresh iterator
            restore_rng(state)
