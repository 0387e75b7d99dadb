"""Distillation loss weights by a stated rule: gradient-norm ratios.

A distillation config states its rule as ``distill_weight_rule =
dict(grad_ratio=r, batches=n)``: before training, every distill item's
``loss_weight`` is multiplied by one factor chosen so that the norm of the
gradient of the (summed) distillation terms with respect to the student's
parameters is ``r`` times the norm of the task loss's gradient, both
averaged over ``n`` batches of the **training** split, at the start of
training (student initialised as it will be trained, teacher loaded). The
val split is never read. The relative weights of several items (e.g.
DLKD's alignment and correlation) are kept as written, unless the rule
states ``balance_items=True``: then each item is first weighted so that all
items give the same gradient norm at the start, and the one factor scales
their sum (for items on different layers, whose natural scales differ by
orders of magnitude and which no paper weighs against each other).

:func:`split_grad_norms` is the measurement, shared with
:class:`~mmkd.apis.efficacy_hooks.GradRatioHook`, which logs the same
ratio during training.
"""
import copy
import statistics
from typing import Dict, List, Optional

import torch

from .student import is_distiller_config

__all__ = [
    'student_parameters', 'split_grad_norms', 'measure_grad_ratio',
    'apply_weight_rule', 'match_for_probe', 'probe_table'
]


def student_parameters(model) -> List[torch.nn.Parameter]:
    """Trainable parameters of the student (all of them for a plain model;
    connectors and projectors of a distiller are not the student's)."""
    net = getattr(model, 'student', model)
    return [p for p in net.parameters() if p.requires_grad]


def _norm(grads) -> float:
    sq = sum(float(g.detach().double().pow(2).sum()) for g in grads
             if g is not None)
    return sq**0.5


def split_grad_norms(model, data: dict) -> Dict[str, float]:
    """Gradient norms on the student of the task loss and of each distill
    term (as weighted in the model), for one preprocessed batch.

    Args:
        model: A distiller (or a plain segmentor: only ``task``).
        data (dict): ``model.data_preprocessor(batch, True)``.

    Returns:
        dict: ``task``, ``distill`` (sum of all terms) and
        ``distill.<name>`` per term: L2 norms over the student's
        parameters. Gradients are not accumulated into ``.grad``.
    """
    params = student_parameters(model)
    losses = model(**data, mode='loss')
    task, terms = 0.0, {}
    for key, value in losses.items():
        if 'loss' not in key:
            continue
        value = value.sum() if isinstance(value, torch.Tensor) else sum(
            value)
        if key.startswith('distill.'):
            terms[key] = value
        else:
            task = task + value
    out = {}
    out['task'] = _norm(
        torch.autograd.grad(task, params, retain_graph=True,
                            allow_unused=True))
    if terms:
        total = sum(terms.values())
        out['distill'] = _norm(
            torch.autograd.grad(total, params, retain_graph=True,
                                allow_unused=True))
        for key, value in terms.items():
            out[key] = _norm(
                torch.autograd.grad(value, params, retain_graph=True,
                                    allow_unused=True))
    return out


def _batches(cfg, n: int, seed: int):
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mmkd.registry import DATASETS
    with DefaultScope.overwrite_default_scope('mmkd'):
        dataset = DATASETS.build(copy.deepcopy(cfg.train_dataloader.dataset))
    bs = int(cfg.train_dataloader.batch_size)
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=g).tolist()
    for b in range(n):
        yield pseudo_collate(
            [dataset[order[(b * bs + i) % len(order)]] for i in range(bs)])


def match_for_probe(model, cfg, seed: int = 0) -> Optional[str]:
    """Solve MGD's channel matching before a probe, as the run's
    ``MatchingGuidedHook`` does before training, so that the rule measures
    the loss the student trains with (not the placeholder assignment).

    Matches on the hook's ``dataloader`` (its images in order, up to its
    ``num_images``), else on training batches; never on the val split.

    Returns:
        str or None: The hook's report; None without an MGD hook and loss.
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mmkd.models.losses.mgd_loss import MatchingGuidedLoss
    from mmkd.registry import DATASETS, HOOKS
    hooks = [h for h in cfg.get('custom_hooks', None) or []
             if h.get('type') in ('MatchingGuidedHook',
                                  'mmkd.MatchingGuidedHook')]
    losses = getattr(model, 'distill_losses', {})
    if not hooks or not any(isinstance(loss, MatchingGuidedLoss)
                            for loss in dict(losses).values()):
        return None
    hook = HOOKS.build(copy.deepcopy(hooks[0]))
    loader_cfg = hook.dataloader_cfg
    if loader_cfg is None:
        batches = list(_batches(cfg, 4, seed))
    else:
        with DefaultScope.overwrite_default_scope('mmkd'):
            dataset = DATASETS.build(copy.deepcopy(loader_cfg['dataset']))
        n = min(len(dataset), hook.num_images or len(dataset))
        bs = int(loader_cfg.get('batch_size', 1))
        batches = [pseudo_collate([dataset[i]
                                   for i in range(b, min(b + bs, n))])
                   for b in range(0, n, bs)]
    with DefaultScope.overwrite_default_scope('mmkd'):
        return hook.match_distiller(model, batches)


def measure_grad_ratio(cfg, batches: int = 4, seed: int = 0,
                       model=None) -> Dict[str, float]:
    """Mean gradient norms (see :func:`split_grad_norms`) of a config's
    model at initialisation over ``batches`` training batches."""
    from mmengine.device import get_device
    from mmengine.registry import DefaultScope
    from mmengine.runner import set_random_seed

    from mmkd.registry import MODELS
    from .efficacy_cka import init_quietly
    if model is None:
        set_random_seed(seed)
        with DefaultScope.overwrite_default_scope('mmkd'):
            model = MODELS.build(copy.deepcopy(cfg.model))
        init_quietly(model)
        model.to(get_device())  # the GPU where there is one, as training
        report = match_for_probe(model, cfg, seed)
        if report:
            print(f'weight rule probe: {report}')
    model.train()
    sums: Dict[str, float] = {}
    with DefaultScope.overwrite_default_scope('mmkd'):
        for batch in _batches(cfg, batches, seed):
            data = model.data_preprocessor(batch, True)
            for k, v in split_grad_norms(model, data).items():
                sums[k] = sums.get(k, 0.0) + v
    return {k: v / batches for k, v in sums.items()}


def _balance_items(cfg, norms: Dict[str, float]) -> None:
    """Reweight the distill items of ``cfg`` (in place) so that each gives
    the gradient norm of their geometric mean, ``norms`` measured at the
    configs' weights."""
    item_norms = {}
    for item in cfg.model.distill:
        n = norms.get(f"distill.{item['name']}", 0.0)
        if not n > 0:
            raise RuntimeError(
                f"distill_weight_rule.balance_items: the item "
                f"{item['name']!r} gives no gradient on the student at the "
                'start, so it cannot be balanced against the others; drop '
                'balance_items or the item')
        item_norms[item['name']] = n
    mean = statistics.geometric_mean(item_norms.values())
    for item in cfg.model.distill:
        w = float(item['loss'].get('loss_weight', 1.0))
        item['loss']['loss_weight'] = w * mean / item_norms[item['name']]


def apply_weight_rule(cfg, seed: int = 0,
                      log=print) -> Optional[Dict[str, float]]:
    """Set a distillation config's loss weights by its
    ``distill_weight_rule`` (in place); see the module docstring.

    Returns:
        dict or None: ``grad_ratio``, ``scale``, the measured norms before
        scaling, and the resulting ``weights`` (item name -> loss_weight);
        with ``balance_items``, also ``norms_at_config_weights`` (the
        measurement before balancing); None when the config states no
        rule.
    """
    rule = cfg.get('distill_weight_rule', None)
    if not rule or not is_distiller_config(cfg):
        return None
    ratio = float(rule['grad_ratio'])
    if not ratio > 0:
        raise ValueError(f'distill_weight_rule.grad_ratio must be > 0, got '
                         f'{ratio}')
    batches = int(rule.get('batches', 4))
    norms = measure_grad_ratio(cfg, batches, seed)
    extra = {}
    at = "the configs' weights"
    if rule.get('balance_items', False) and len(cfg.model.distill) > 1:
        _balance_items(cfg, norms)
        extra['norms_at_config_weights'] = norms
        norms = measure_grad_ratio(cfg, batches, seed)
        at = 'weights balanced between the items'
    if not norms.get('distill', 0.0) > 0:
        raise RuntimeError(
            'distill_weight_rule: the distillation terms give no gradient on '
            f'the student at the start ({norms}); the rule cannot set their '
            'weights')
    scale = ratio * norms['task'] / norms['distill']
    weights = {}
    for item in cfg.model.distill:
        w = float(item['loss'].get('loss_weight', 1.0)) * scale
        item['loss']['loss_weight'] = w
        weights[item['name']] = w
    if log:
        log(f'weight rule: distillation gradient = {ratio:g} x task '
            f"gradient (task {norms['task']:.4g}, distill "
            f"{norms['distill']:.4g} at {at}) -> "
            + ', '.join(f'{k} {v:.4g}' for k, v in weights.items()))
    return dict(grad_ratio=ratio, scale=scale, norms=norms, weights=weights,
                **extra)


def probe_table(proto, methods, iters=None) -> str:
    """``--probe-losses``: per method, the rule's measurement on
    ``proto``'s data and teacher (task and distillation gradient norms at
    the configs' weights, each item's own when several) and the weights a
    run resolves from it (``balance_items`` included), as a markdown
    table. Trains nothing."""
    from .quickstart_protocol import protocol_config
    lines = ['| method | rule grad_ratio | task grad norm | distill grad norm '
             "(configs' weights) | ratio | weights after the rule |",
             '|---|---:|---:|---:|---:|---|']
    for m in methods:
        cfg = protocol_config(m, proto, '/tmp', iters)
        ratio = cfg.distill_weight_rule['grad_ratio']
        # the weights as a run resolves them; the norms before balancing
        resolved = apply_weight_rule(cfg, log=None)
        n = resolved.get('norms_at_config_weights', resolved['norms'])
        weights = resolved['weights']
        w = ', '.join(
            f'{name} {weight:.4g}' + (
                f" (norm {n['distill.' + name]:.4g})"
                if len(weights) > 1 else '')
            for name, weight in weights.items())
        lines.append(f"| {m} | {ratio:g} | {n['task']:.4g} | "
                     f"{n['distill']:.4g} | {n['distill'] / n['task']:.3g} | "
                     f'{w} |')
    return '\n'.join(lines)
