"""The re-matching schedule of Matching Guided Distillation (MGD).

Reference: Kaiyu Yue, Jiangfan Deng, Feng Zhou. "Matching Guided
Distillation", ECCV 2020. MGD trains by coordinate descent: the channel
assignment between teacher and student is solved with the student fixed,
then the student trains with the assignment fixed, and so on.
:class:`MatchingGuidedHook` is the assignment step; the loss is
:class:`mmkd.models.losses.MatchingGuidedLoss`.
"""
import math
import random
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine import dist
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmkd.models.losses.matching import (assignment_cost, channel_cost,
                                         match_channels)
from mmkd.models.losses.mgd_loss import MatchingGuidedLoss
from mmkd.registry import HOOKS


class _RNGSnapshot:
    """Global torch (CPU and CUDA), numpy and Python RNG states, plus the
    generators of the given data loaders."""

    def __init__(self, loaders: Sequence = ()):
        self.torch = torch.get_rng_state()
        self.cuda = (torch.cuda.get_rng_state_all()
                     if torch.cuda.is_available()
                     and torch.cuda.is_initialized() else None)
        self.numpy = np.random.get_state()
        self.python = random.getstate()
        self.generators = [(g, g.get_state()) for g in (
            getattr(loader, 'generator', None) for loader in loaders)
                           if isinstance(g, torch.Generator)]

    def restore(self) -> None:
        torch.set_rng_state(self.torch)
        if self.cuda is not None:
            torch.cuda.set_rng_state_all(self.cuda)
        np.random.set_state(self.numpy)
        random.setstate(self.python)
        for generator, state in self.generators:
            generator.set_state(state)


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x, )


@HOOKS.register_module()
class MatchingGuidedHook(Hook):
    """Solve MGD's channel assignment before training and every N steps.

    Each matching runs both models in eval mode under ``torch.no_grad()``
    over a fixed, non-augmented image set (by default the validation
    loader), accumulates every :class:`MatchingGuidedLoss`'s ``C_s x C_t``
    cost per stage (:func:`channel_cost` through ``distiller.extract``),
    solves the assignment (:func:`match_channels`) and writes it into the
    loss's buffers, which checkpoints save: a resumed run whose losses hold
    a matching does not match again before training, it continues with the
    checkpoint's assignment.

    Distributed: each rank accumulates the cost over its shard of the
    image set (the loader's distributed sampler); the sums are all-reduced,
    rank 0 solves and broadcasts, so every rank holds rank 0's assignment.

    The pass leaves training undisturbed: every module's train/eval flag,
    the global torch (CPU, CUDA), numpy and Python RNG states and the
    training loader's generator are restored afterwards; in eval mode no
    BN running statistic changes.

    The hook runs at NORMAL priority, before the CheckpointHook (VERY_LOW):
    a checkpoint saved at a matching step already holds the new assignment.

    Args:
        interval (int): Match every ``interval`` iterations (or epochs with
            ``by_epoch=True``). No matching after the last one.
        by_epoch (bool): Count epochs instead of iterations. Defaults to
            False.
        num_images (int, optional): Images per matching (all ranks
            together; each rank takes ``ceil(num_images / world_size)``).
            None: the whole loader. Defaults to None.
        dataloader (dict, optional): Loader config of the image set, built
            with ``Runner.build_dataloader`` at the first matching. None:
            the runner's validation loader. Use a non-augmented pipeline
            and an unshuffled sampler so every matching sees the same
            images.
        loss_names (Sequence[str], optional): Distill items to match; None:
            every item whose loss is a ``MatchingGuidedLoss``.
        transformed (bool): Match the features after the items'
            transforms (as the loss receives them). Defaults to False (the
            recorded features; MGD items normally have no transforms).
        match_before_train (bool): Match in ``before_train`` unless every
            loss already holds a matching (resume). Defaults to True.
    """

    priority = 'NORMAL'

    def __init__(self,
                 interval: int = 2000,
                 by_epoch: bool = False,
                 num_images: Optional[int] = None,
                 dataloader: Optional[dict] = None,
                 loss_names: Optional[Sequence[str]] = None,
                 transformed: bool = False,
                 match_before_train: bool = True):
        for name, value in (('interval', interval),
                            ('num_images', num_images)):
            if value is None and name == 'num_images':
                continue
            if isinstance(value, bool) or not isinstance(value, int) \
                    or value < 1:
                raise ValueError(f'MatchingGuidedHook: {name} must be a '
                                 f'positive int, got {value!r}')
        self.interval = interval
        self.by_epoch = by_epoch
        self.num_images = num_images
        self.dataloader_cfg = dataloader
        self.loss_names = None if loss_names is None else list(loss_names)
        self.transformed = transformed
        self.match_before_train = match_before_train
        self._dataloader = None
        self.last_report: Dict[str, List[float]] = {}

    # ------------------------------------------------------------------
    # discovery
    # ------------------------------------------------------------------
    @staticmethod
    def _distiller(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if not hasattr(model, 'extract') or not hasattr(
                model, 'distill_losses'):
            raise TypeError(
                f'MatchingGuidedHook needs a distiller model (with extract '
                f'and distill_losses), got {type(model).__name__}; remove '
                f'the hook from custom_hooks')
        return model

    def _losses(self, distiller) -> Dict[str, MatchingGuidedLoss]:
        losses = dict(distiller.distill_losses)
        found = {
            name: loss
            for name, loss in losses.items()
            if isinstance(loss, MatchingGuidedLoss)
        }
        if self.loss_names is not None:
            unknown = [n for n in self.loss_names if n not in found]
            if unknown:
                raise ValueError(
                    f'MatchingGuidedHook: loss_names {unknown} are not '
                    f'distill items with a MatchingGuidedLoss; those are '
                    f'{sorted(found)}')
            found = {n: found[n] for n in self.loss_names}
        if not found:
            raise ValueError(
                f'MatchingGuidedHook: no distill item uses '
                f'MatchingGuidedLoss (items: {sorted(losses)}); remove the '
                f'hook or add an MGD item')
        return found

    def _loader(self, runner):
        if self._dataloader is not None:
            return self._dataloader
        if self.dataloader_cfg is not None:
            self._dataloader = runner.build_dataloader(
                self.dataloader_cfg, seed=runner.seed)
        else:
            loop = getattr(runner, 'val_loop', None)
            loader = getattr(loop, 'dataloader', None)
            if loader is None:
                raise ValueError(
                    'MatchingGuidedHook needs images to match on: configure '
                    'a val_dataloader or give the hook '
                    'dataloader=dict(...) (non-augmented, unshuffled)')
            self._dataloader = loader
        return self._dataloader

    # ------------------------------------------------------------------
    # schedule
    # ------------------------------------------------------------------
    def before_train(self, runner) -> None:
        losses = self._losses(self._distiller(runner))
        if not self.match_before_train:
            return
        if all(loss.is_matched for loss in losses.values()):
            counts = {n: int(loss.num_matchings) for n, loss in losses.items()}
            runner.logger.info(
                f'MatchingGuidedHook: the losses already hold a matching '
                f'(matchings so far: {counts}); continuing with it')
            return
        self.match(runner)

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        if self.by_epoch:
            return
        if self.every_n_train_iters(runner, self.interval) and \
                not self.is_last_train_iter(runner):
            self.match(runner)

    def after_train_epoch(self, runner) -> None:
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) and \
                not self.is_last_train_epoch(runner):
            self.match(runner)

    # ------------------------------------------------------------------
    # matching
    # ------------------------------------------------------------------
    def match(self, runner) -> None:
        """One matching: accumulate, solve on rank 0, broadcast, write."""
        train_loader = getattr(getattr(runner, 'train_loop', None),
                               'dataloader', None)
        runner.logger.info(self.match_distiller(
            self._distiller(runner), self._loader(runner), train_loader))

    def match_distiller(self, distiller, loader, train_loader=None) -> str:
        """Match ``distiller``'s MGD losses on the batches of ``loader``
        (without a runner, e.g. before a weight probe).

        Train/eval flags and the RNG states (and ``train_loader``'s
        generator) are restored afterwards.

        Returns:
            str: The report line the hook logs.
        """
        losses = self._losses(distiller)
        modes = {name: m.training for name, m in distiller.named_modules()}
        rng = _RNGSnapshot([train_loader] if train_loader is not None else [])
        start = time.perf_counter()
        try:
            for loss in losses.values():
                loss.refresh_margins(distiller.teacher)
            distiller.eval()
            costs, count = self.accumulate(distiller, loader, losses)
        finally:
            for name, module in distiller.named_modules():
                module.training = modes[name]
            rng.restore()
        pass_time = time.perf_counter() - start
        solve_start = time.perf_counter()
        assignments = self.solve(costs, losses)
        solve_time = time.perf_counter() - solve_start
        self.last_report = {}
        for name, loss in losses.items():
            loss.set_assignment(assignments[name])
            self.last_report[name] = [
                assignment_cost(c, a, count)
                for c, a in zip(costs[name], assignments[name])
            ]
        return (f'MatchingGuidedHook: matched on {count} images (pass '
                f'{pass_time:.1f}s, solve {solve_time:.1f}s); mean matched '
                f'cost per stage: ' + '; '.join(
                    f'{n}: ' + ', '.join(f'{v:.3f}' for v in values)
                    for n, values in self.last_report.items()))

    def accumulate(self, distiller, loader, losses):
        """Summed cost per loss and stage over the image set.

        Returns:
            tuple[dict, int]: loss name -> list of ``C_s x C_t`` float64
            tensors (all-reduced over ranks), and the number of images.
        """
        world = dist.get_world_size()
        limit = None if self.num_images is None else math.ceil(
            self.num_images / world)
        costs = {name: None for name in losses}
        seen = 0
        with torch.no_grad():
            for data_batch in loader:
                data = distiller.data_preprocessor(data_batch, False)
                s_feats, t_feats = distiller.extract(
                    data['inputs'], data.get('data_samples'),
                    transformed=self.transformed)
                for name in losses:
                    batch = [
                        channel_cost(s, t) for s, t in zip(
                            _as_tuple(s_feats[name]), _as_tuple(t_feats[name]))
                    ]
                    costs[name] = batch if costs[name] is None else [
                        a + b for a, b in zip(costs[name], batch)
                    ]
                seen += int(_as_tuple(s_feats[next(iter(losses))])[0].shape[0])
                if limit is not None and seen >= limit:
                    break
        for name, loss in losses.items():
            if costs[name] is None:  # this rank saw no image
                device = loss.assignment(0).device
                costs[name] = [
                    torch.zeros(cs, ct, dtype=torch.float64, device=device)
                    for cs, ct in zip(loss.student_channels,
                                      loss.teacher_channels)
                ]
        count = torch.tensor(float(seen), dtype=torch.float64,
                             device=costs[next(iter(losses))][0].device)
        if world > 1:
            for name in losses:
                for cost in costs[name]:
                    dist.all_reduce(cost, op='sum')
            dist.all_reduce(count, op='sum')
        count = int(count.item())
        if count == 0:
            raise RuntimeError(
                'MatchingGuidedHook: the matching loader gave no image; '
                'check its dataset')
        return costs, count

    def solve(self, costs, losses) -> Dict[str, List[torch.Tensor]]:
        """Solve on rank 0; broadcast so every rank holds the same one."""
        rank = dist.get_rank()
        out = {}
        for name, loss in losses.items():
            out[name] = []
            for i, cost in enumerate(costs[name]):
                buf = loss.assignment(i)
                if rank == 0:
                    value = torch.from_numpy(
                        match_channels(cost, loss.matching_mode)).to(
                            buf.device)
                else:
                    value = torch.empty_like(buf)
                if dist.get_world_size() > 1:
                    dist.broadcast(value, src=0)
                out[name].append(value)
        return out
