"""A diagnostic hook: distillation vs task gradient norms during training.

``custom_hooks = [dict(type='GradRatioHook', interval=50)]`` measures,
every ``interval`` iterations on the batch about to be trained, the norm of
the gradient on the student's parameters of the task loss and of each
distillation term (:func:`~mmkd.apis.efficacy_weights.split_grad_norms`),
and writes them to ``<work_dir>/grad_ratio.json``. The measurement leaves
training unchanged: no gradient is accumulated, and the random state and
the student's buffers (BN statistics) are restored afterwards.
"""
import json
import os.path as osp
from typing import Optional

import torch
from mmengine.hooks import Hook

from mmkd.registry import HOOKS
from mmkd.utils.atomic_io import atomic_write_json

from .efficacy_weights import split_grad_norms

__all__ = ['GradRatioHook', 'load_grad_ratios']

GRAD_RATIO_FILE = 'grad_ratio.json'


@HOOKS.register_module()
class GradRatioHook(Hook):
    """Log distillation / task gradient-norm ratios on the student.

    Args:
        interval (int): Measure every ``interval`` iterations (and at the
            first one). Defaults to 50.
    """
    priority = 'LOW'

    def __init__(self, interval: int = 50):
        if int(interval) < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = int(interval)
        self.records = []

    def before_train_iter(self, runner, batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        it = runner.iter
        if data_batch is None or not (it == 0 or
                                      (it + 1) % self.interval == 0):
            return
        model = runner.model
        model = getattr(model, 'module', model)
        if not hasattr(model, 'distill_items'):
            return
        net = model.student
        buffers = {k: v.clone() for k, v in net.named_buffers()}
        cpu_state = torch.get_rng_state()
        import numpy as np
        import random
        np_state, py_state = np.random.get_state(), random.getstate()
        try:
            data = model.data_preprocessor(data_batch, True)
            norms = split_grad_norms(model, data)
        finally:
            torch.set_rng_state(cpu_state)
            np.random.set_state(np_state)
            random.setstate(py_state)
            with torch.no_grad():
                for k, v in net.named_buffers():
                    v.copy_(buffers[k])
        rec = dict(iter=it, **norms)
        if norms.get('task'):
            rec['ratio'] = norms.get('distill', 0.0) / norms['task']
        self.records.append(rec)
        atomic_write_json(self.records,
                          osp.join(runner.work_dir, GRAD_RATIO_FILE))


def load_grad_ratios(work_dir: str):
    """The records a :class:`GradRatioHook` wrote in ``work_dir`` ([] if
    none)."""
    try:
        with open(osp.join(work_dir, GRAD_RATIO_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return []
