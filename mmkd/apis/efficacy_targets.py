"""What a logit-distillation target says beyond the labels.

KD (Hinton et al., 2015) trains the student towards the teacher's
per-pixel distribution ``p = softmax(z_T / tau)`` over the classes. That
target carries information the labels lack only where ``p`` is not
one-hot on the labelled class. Per labelled pixel (label ``y``,
``ignore_index`` left out), averaged over pixels:

    top_mass   = max_c p_c                 (1: one-hot)
    label_mass = p_y                       (1: the label itself)
    agree      = [argmax_c p_c == y]       (the teacher's class is the label)
    entropy    = -sum_c p_c log p_c        (nats; 0: one-hot)

Near ``top_mass = label_mass = agree = 1`` the KD term asks what the
cross-entropy already asks. The same numbers for a student's logits
(``agree``) say how far the labels alone already took it, and
``agree_ref = [argmax_c s_c == argmax_c p_c]`` how often the student takes
the teacher's decision. The efficacy benchmark reports them for every
distill item on class logits, for the student alone and the distilled one
(docs/efficacy.md, "Whose decisions the students take").
"""
import copy
from typing import Dict, Iterable, Optional

import torch
import torch.nn.functional as F

__all__ = ['logit_target_stats', 'merge_target_stats', 'logit_items',
           'measure_logit_targets', 'format_targets', 'method_targets']

KEYS = ('top_mass', 'label_mass', 'agree', 'entropy')


def logit_target_stats(logits: torch.Tensor,
                       labels: torch.Tensor,
                       tau: float = 1.0,
                       ignore_index: int = 255,
                       reference: Optional[torch.Tensor] = None
                       ) -> Dict[str, float]:
    """The target ``softmax(logits / tau)`` against the labels, per pixel.

    Args:
        logits (Tensor): ``B x C x h x w`` class logits.
        labels (Tensor): ``B x H x W`` (or ``B x 1 x H x W``) class
            indices; resized to ``h x w`` by nearest neighbour if needed.
        tau (float): Softmax temperature (> 0), the loss's.
        ignore_index (int): Label of pixels left out.
        reference (Tensor, optional): Other ``B x C' x h x w`` logits (the
            teacher's): adds ``agree_ref``, how often the two argmaxes agree.

    Returns:
        dict: ``pixels`` (labelled pixels counted) and the means
        ``top_mass``, ``label_mass``, ``agree``, ``entropy`` (and
        ``agree_ref``) over them (NaN when no pixel is labelled).
    """
    if logits.ndim != 4:
        raise ValueError(f'logits must be B x C x h x w, got '
                         f'{tuple(logits.shape)}')
    if labels.ndim == 4 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 3 or labels.shape[0] != logits.shape[0]:
        raise ValueError(f'labels must be B x H x W with B = '
                         f'{logits.shape[0]}, got {tuple(labels.shape)}')
    if not tau > 0:
        raise ValueError(f'tau must be > 0, got {tau}')
    if labels.shape[-2:] != logits.shape[-2:]:
        labels = F.interpolate(labels[:, None].float(),
                               size=logits.shape[-2:],
                               mode='nearest')[:, 0]
    labels = labels.long()
    valid = labels != ignore_index
    num_classes = logits.shape[1]
    bad = valid & ((labels < 0) | (labels >= num_classes))
    if bad.any():
        raise ValueError(
            f'labels hold {sorted(labels[bad].unique().tolist())[:5]}, '
            f'outside the logits\' {num_classes} classes and not '
            f'ignore_index={ignore_index}: pass the dataset\'s ignore_index '
            'or logits with one channel per class')
    if reference is not None and (
            reference.ndim != 4 or reference.shape[0] != logits.shape[0]
            or reference.shape[-2:] != logits.shape[-2:]):
        raise ValueError(f'reference must be B x C\' x h x w like the '
                         f'logits {tuple(logits.shape)}, got '
                         f'{tuple(reference.shape)}')
    keys = KEYS + (('agree_ref', ) if reference is not None else ())
    n = int(valid.sum())
    if n == 0:
        return dict(pixels=0, **{k: float('nan') for k in keys})
    p = (logits.detach().double() / tau).softmax(1)
    top, arg = p.max(1)
    label_p = p.gather(1, labels.clamp(0, num_classes - 1)[:, None])[:, 0]
    entropy = -(p * p.clamp_min(1e-300).log()).sum(1)
    out = dict(pixels=n,
               top_mass=float(top[valid].mean()),
               label_mass=float(label_p[valid].mean()),
               agree=float((arg == labels)[valid].double().mean()),
               entropy=float(entropy[valid].mean()))
    if reference is not None:
        same = arg == reference.detach().argmax(1)
        out['agree_ref'] = float(same[valid].double().mean())
    return out


def merge_target_stats(parts: Iterable[Dict[str, float]]) -> Dict[str, float]:
    """Pixel-weighted means of several :func:`logit_target_stats`."""
    parts = list(parts)
    keys = [k for k in parts[0] if k != 'pixels'] if parts else list(KEYS)
    parts = [p for p in parts if p['pixels'] > 0]
    n = sum(p['pixels'] for p in parts)
    if n == 0:
        return dict(pixels=0, **{k: float('nan') for k in keys})
    return dict(pixels=n, **{
        k: sum(p[k] * p['pixels'] for p in parts) / n for k in keys})


def logit_items(cfg) -> Dict[str, float]:
    """Distill items on class logits: the output of the decode head's
    classifier (``decode_head.conv_seg``) on both sides. Returns item name
    -> its loss's ``tau`` (1.0 if it has none)."""
    out = {}
    for item in cfg.model.get('distill', None) or []:
        sides = [item.get(s, None) for s in ('student', 'teacher')]
        # a side may also be a list of features (e.g. IRG's edge term)
        if all(isinstance(s, dict)
               and s.get('module', None) == 'decode_head.conv_seg'
               and s.get('source', 'output') == 'output' for s in sides):
            out[item['name']] = float(item.get('loss', {}).get('tau', 1.0))
    return out


def _train_images(cfg):
    """The training list as trained (e.g. class-balanced, repeats included)
    read with the val pipeline (no crops or flips)."""
    train = cfg.train_dataloader.dataset
    while 'dataset' in train and 'ann_file' not in train:
        train = train.dataset  # a wrapper (repeat / class balancing)
    ds = copy.deepcopy(cfg.val_dataloader.dataset)
    for key in ('data_root', 'ann_file', 'data_prefix'):
        if key in train:
            ds[key] = copy.deepcopy(train[key])
    return ds


def measure_logit_targets(cfg,
                          student_checkpoint: Optional[str] = None,
                          max_images: int = 256,
                          ignore_index: int = 255) -> Dict[str, dict]:
    """:func:`logit_target_stats` of the teacher and of a student at each
    logit item of ``cfg``, on the first ``max_images`` training images.

    Args:
        cfg: A distillation config (teacher checkpoint set).
        student_checkpoint (str, optional): The student to compare, as
            :func:`~mmkd.apis.efficacy_cka.distill_cka` takes it (e.g. the
            student trained alone); None: the student at its start.
        max_images (int): Training images used.
        ignore_index (int): Label of unlabelled pixels.

    Returns:
        dict: item -> ``dict(tau=, teacher=stats, student=stats)``; empty
        when ``cfg`` distils no logits.
    """
    from mmengine.registry import DefaultScope

    from mmkd.registry import DATASETS
    from .efficacy_cka import _first, _model, same_size_batches
    items = logit_items(cfg)
    if not items:
        return {}
    model = _model(cfg, student_checkpoint, 0)
    parts = {name: dict(teacher=[], student=[]) for name in items}
    with DefaultScope.overwrite_default_scope('mmkd'):
        dataset = DATASETS.build(_train_images(cfg))
        for batch in same_size_batches(dataset,
                                       min(max_images, len(dataset))):
            data = model.data_preprocessor(batch, False)
            s, t = model.extract(data['inputs'], data['data_samples'],
                                 transformed=False)
            # the val pipeline keeps each label at its original size
            for i, sample in enumerate(data['data_samples']):
                label = sample.gt_sem_seg.data
                for name, tau in items.items():
                    teacher = _first(t[name])[i:i + 1].float()
                    parts[name]['teacher'].append(logit_target_stats(
                        teacher, label, tau, ignore_index))
                    parts[name]['student'].append(logit_target_stats(
                        _first(s[name])[i:i + 1].float(), label, tau,
                        ignore_index, reference=teacher))
    model.remove_hooks()
    return {name: dict(tau=items[name],
                       **{side: merge_target_stats(v)
                          for side, v in sides.items()})
            for name, sides in parts.items()}


def format_targets(targets: Dict[str, dict], seed: int = 0) -> str:
    """The report's section: per method and logit item, the teacher's
    target, and how often the top class of the teacher, the student alone
    and the distilled student (both ``seed``) is the label, and the
    students' is the teacher's; '' without logit items."""
    lines = []
    for method, items in targets.items():
        for name, r in items.items():
            t, a, d = r['teacher'], r['alone'], r['distilled']
            shares = (t['agree'], a['agree'], d['agree'], a['agree_ref'],
                      d['agree_ref'])
            lines.append(
                f"| {method} | {name} | {r['tau']:g} | {t['top_mass']:.2f} "
                f"| {t['label_mass']:.2f} | {t['entropy']:.2f} | "
                + ' | '.join(f'{100 * v:.0f}%' for v in shares) + ' |')
    if not lines:
        return ''
    pixels = next(iter(next(iter(targets.values())).values()))
    return (
        f"\nLogit targets ({pixels['teacher']['pixels']} labelled pixels of "
        'the training split, val pipeline): what the teacher\'s per-pixel '
        'softmax at the item\'s tau says beyond the label, and whose '
        f'decisions the students (seed {seed}) take.\n\n'
        '| method | item | tau | teacher top-class mass | mass on the label '
        '| entropy (nats) | argmax = label: teacher | student alone '
        '| distilled | argmax = teacher\'s: student alone | distilled |\n'
        '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
        + '\n'.join(lines) + '\n')


def method_targets(proto, methods, alone: str, distilled: Dict[str, str],
                   iters=None) -> Dict[str, dict]:
    """:func:`measure_logit_targets` for each of ``methods`` that distils
    logits, under ``proto``'s teacher, for the student trained alone
    (checkpoint ``alone``) and the distilled one (``distilled[method]``).

    Returns:
        dict: method -> item -> ``dict(tau=, teacher=, alone=,
        distilled=)``; methods without a logit item are left out.
    """
    from .quickstart_protocol import protocol_config
    out = {}
    for method in methods:
        cfg = protocol_config(method, proto, '/tmp', iters)
        if not logit_items(cfg):
            continue
        a = measure_logit_targets(cfg, alone)
        d = measure_logit_targets(cfg, distilled[method])
        out[method] = {name: dict(tau=r['tau'], teacher=r['teacher'],
                                  alone=r['student'],
                                  distilled=d[name]['student'])
                       for name, r in a.items()}
    return out
