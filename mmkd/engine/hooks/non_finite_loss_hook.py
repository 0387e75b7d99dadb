"""Stop training at the first NaN or Inf loss, on every rank at once."""
import math
from typing import Dict, List, Optional

import torch
from mmengine import dist
from mmengine.hooks import Hook

from mmkd.registry import HOOKS


class NonFiniteLossError(RuntimeError):
    """A loss term was NaN or Inf; training was stopped."""


@HOOKS.register_module()
class NonFiniteLossHook(Hook):
    """Stop training when any loss term is NaN or Inf.

    After every training iteration the hook looks at the logged loss terms
    (the ``outputs`` of ``train_step``: ``loss``, ``decode.loss_ce``,
    ``distill.loss_ickd``, ...). Each rank's flags are summed over all
    ranks (one small all-reduce), so when one rank meets a non-finite term
    every rank raises :class:`NonFiniteLossError` in the same iteration and
    none is left waiting in a collective. The message names the iteration
    (1-based, as in the logs and in ``iter_<N>.pth``), the terms, their
    values and the ranks.

    The optimizer has already applied that iteration's (non-finite)
    gradients when the hook runs, so it runs at ``VERY_HIGH`` priority:
    after mmengine's ``RuntimeInfoHook`` and before every other
    ``after_train_iter`` (EMA updates, logging, and above all the
    ``CheckpointHook``, ``VERY_LOW``), so that no checkpoint of that
    iteration is written. Checkpoints of earlier iterations are untouched:
    resume from the last one with a lower learning rate or loss weight.

    Args:
        interval (int): Check every ``interval`` iterations. Defaults to 1
            (a check costs one all-reduce of a few numbers).
    """

    priority = 'VERY_HIGH'

    def __init__(self, interval: int = 1):
        if isinstance(interval, bool) or not isinstance(interval, int) or \
                interval < 1:
            raise ValueError(f'NonFiniteLossHook: interval must be a '
                             f'positive int, got {interval!r}')
        self.interval = interval

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch=None,
                         outputs: Optional[Dict] = None) -> None:
        if not self.every_n_train_iters(runner, self.interval):
            return
        names, values = _loss_terms(outputs or {})
        bad = {n: v for n, v in zip(names, values) if not math.isfinite(v)}
        count = torch.tensor([float(len(bad))], dtype=torch.float64)
        dist.all_reduce(count, op='sum')  # no-op in one process
        if count.item() == 0:
            return
        # every rank is here: say which rank saw which terms
        reports = dist.all_gather_object(bad) \
            if dist.get_world_size() > 1 else [bad]
        raise NonFiniteLossError(_message(runner.iter + 1, reports))


def _loss_terms(outputs: Dict):
    """Names and float values of the loss terms in ``outputs``."""
    names, values = [], []
    for name, value in outputs.items():
        if 'loss' not in name:
            continue
        if isinstance(value, torch.Tensor):
            value = value.detach().float().mean().item()
        try:
            values.append(float(value))
        except (TypeError, ValueError):
            continue
        names.append(name)
    return names, values


def _message(iteration: int, reports: List[Dict[str, float]]) -> str:
    terms: Dict[str, List[str]] = {}
    for rank, bad in enumerate(reports):
        for name, value in bad.items():
            terms.setdefault(name, []).append(f'{value} on rank {rank}')
    listed = '; '.join(f'{name} = {", ".join(where)}'
                       for name, where in terms.items())
    culprits = sorted(n for n in terms if n != 'loss') or ['loss']
    return (f'non-finite loss at iteration {iteration}: {listed}. Training '
            f'stopped before iteration {iteration} was checkpointed. The '
            f'term(s) {", ".join(culprits)} diverged: lower its '
            f'loss_weight or the learning rate (or clip gradients: '
            f'optim_wrapper.clip_grad=dict(max_norm=...)), then resume '
            f'from the last checkpoint with --resume.')
