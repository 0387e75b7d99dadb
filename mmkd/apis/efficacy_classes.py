"""Per-class IoU of the benchmark's models: where a method's gain, and the
student alone's spread over seeds, come from.

mIoU averages the classes; a method that gains 3 mIoU may gain 20 IoU on
one class a seed of the student alone never learns. :func:`class_iou`
evaluates a checkpoint on the val split with mmseg's ``IoUMetric`` (its
per-image intersection and union areas, summed here per class, as the
metric does before it logs its per-class table), :func:`run_class_iou`
caches it beside the run's checkpoint, and :func:`class_table` writes the
report's section: per model the mean IoU of each class over the seeds,
with the student alone's std per class.
"""
import json
import math
import os
import os.path as osp
import statistics
from typing import Dict, List, Optional, Sequence

import torch

__all__ = ['class_iou', 'run_class_iou', 'class_table']

_CACHE = 'class_iou.json'


def _student_state(checkpoint: str) -> dict:
    """The segmentor's weights of a plain or a distiller's checkpoint."""
    from mmengine.runner.checkpoint import _load_checkpoint

    from .student import STUDENT_PREFIX, split_student_state
    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    if any(k.startswith(STUDENT_PREFIX) for k in state):
        return split_student_state(ckpt, checkpoint)
    return state


def class_iou(cfg, checkpoint: str,
              max_images: Optional[int] = None) -> Dict[str, float]:
    """IoU (%) of every class on ``cfg``'s val split.

    Args:
        cfg: A plain segmentor config (the student alone's for any
            student, the teacher's for the teacher) whose model the
            checkpoint holds.
        checkpoint (str): A plain segmentor's checkpoint or a distiller's
            (its ``student.`` weights are read).
        max_images (int, optional): Evaluate the first images only.

    Returns:
        dict: class name -> IoU in percent, NaN for a class that is neither
        labelled nor predicted on these images (mmseg's convention).
    """
    import copy

    from mmengine.device import get_device
    from mmengine.registry import DefaultScope
    from mmseg.evaluation import IoUMetric

    from mmkd.registry import DATASETS, MODELS
    from .efficacy_cka import same_size_batches
    if 'distill' in cfg.model:
        raise ValueError(
            'class_iou takes the plain segmentor config of the checkpoint '
            "(e.g. the student alone's), not a distiller's")
    with DefaultScope.overwrite_default_scope('mmkd'):
        # every weight comes from the checkpoint (strict): no init needed
        model = MODELS.build(copy.deepcopy(cfg.model))
        model.load_state_dict(_student_state(checkpoint), strict=True)
        model.to(get_device())  # the GPU where there is one
        model.eval()
        dataset = DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))
        classes = list(dataset.metainfo['classes'])
        metric = IoUMetric(ignore_index=cfg.val_evaluator.get(
            'ignore_index', 255))
        metric.dataset_meta = dict(classes=classes)
        n = len(dataset) if max_images is None else min(max_images,
                                                        len(dataset))
        with torch.no_grad():
            for batch in same_size_batches(dataset, n):
                metric.process(batch, [s.to_dict()
                                       for s in model.test_step(batch)])
    inter = sum(r[0] for r in metric.results).double().cpu()
    union = sum(r[1] for r in metric.results).double().cpu()
    iou = (100 * inter / union).tolist()  # 0 / 0 -> NaN
    return {c: float(v) for c, v in zip(classes, iou)}


def run_class_iou(cfg, checkpoint: str) -> Dict[str, float]:
    """:func:`class_iou` of a run's checkpoint, cached in the checkpoint's
    directory (``class_iou.json``, valid while the checkpoint file's size
    and modification time are those it was computed from)."""
    from mmkd.utils import atomic_write_json
    stat = os.stat(checkpoint)
    stamp = dict(checkpoint=osp.basename(checkpoint), size=stat.st_size,
                 mtime_ns=stat.st_mtime_ns)
    path = osp.join(osp.dirname(checkpoint), _CACHE)
    if osp.isfile(path):
        with open(path) as f:
            cached = json.load(f)
        if cached.get('stamp') == stamp:
            return cached['iou']
    iou = class_iou(cfg, checkpoint)
    atomic_write_json(dict(stamp=stamp, iou=iou), path)
    return iou


def _mean(values: Sequence[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.fmean(values) if values else float('nan')


def _fmt(v: float) -> str:
    return '-' if math.isnan(v) else f'{v:.1f}'


def class_table(per_model: Dict[str, List[Dict[str, float]]],
                labels: Dict[str, str], baseline: str = 'baseline',
                teacher: Optional[Dict[str, float]] = None) -> str:
    """The report's per-class section.

    Args:
        per_model (dict): model -> its seeds' :func:`class_iou`.
        labels (dict): model -> label in the table.
        baseline (str): The key of the student alone: its row gives mean
            ± std over seeds, and every other row its change per class.
        teacher (dict, optional): The teacher's :func:`class_iou`.

    Returns:
        str: A markdown section ('' without models).
    """
    if not per_model:
        return ''
    classes = list(next(iter(per_model.values()))[0])
    base = {c: [r[c] for r in per_model[baseline]] for c in classes}
    base_mean = {c: _mean(v) for c, v in base.items()}
    lines = ['| model | ' + ' | '.join(classes) + ' |',
             '|---|' + '---:|' * len(classes)]
    if teacher:
        lines.append('| teacher | ' + ' | '.join(
            _fmt(teacher[c]) for c in classes) + ' |')
    cells = []
    for c in classes:
        vals = [v for v in base[c] if not math.isnan(v)]
        std = statistics.stdev(vals) if len(vals) > 1 else 0.0
        cells.append(f'{_fmt(base_mean[c])} ± {std:.1f}' if vals else '-')
    lines.append(f'| {labels.get(baseline, baseline)} | '
                 + ' | '.join(cells) + ' |')
    for model, runs in per_model.items():
        if model == baseline:
            continue
        cells = []
        for c in classes:
            m = _mean([r[c] for r in runs])
            d = m - base_mean[c]
            cells.append(f'{_fmt(m)} ({d:+.1f})' if not math.isnan(d)
                         else _fmt(m))
        lines.append(f'| {labels.get(model, model)} | ' + ' | '.join(cells)
                     + ' |')
    n = len(per_model[baseline])
    return ('\nPer-class IoU on val, mean over the seeds (student alone: '
            f"± std over its {n} seed{'s' if n != 1 else ''}; methods: "
            'change from the student '
            'alone in parentheses):\n\n' + '\n'.join(lines) + '\n')


def class_section(proto, records: List[dict], iters=None):
    """Per-class IoU of the teacher and of every run in ``records`` (the
    benchmark's, one teacher), as ``(text, data)``: :func:`class_table`'s
    section and ``dict(teacher=, runs={stage: {seed: iou}})``."""
    from .quickstart_config import QUICKSTART_STAGES
    from .quickstart_protocol import protocol_config
    student = protocol_config('baseline', proto, '/tmp', iters)
    teacher = run_class_iou(protocol_config('teacher', proto, '/tmp'),
                            proto.teacher.checkpoint)
    runs: Dict[str, Dict[int, Dict[str, float]]] = {}
    for r in records:
        runs.setdefault(r['stage'], {})[r['seed']] = run_class_iou(
            student, r['checkpoint'])
    labels = {s: QUICKSTART_STAGES.get(s, {}).get('label', s) for s in runs}
    labels['baseline'] = 'student alone'
    text = class_table({s: list(v.values()) for s, v in runs.items()},
                       labels, teacher=teacher)
    return text, dict(teacher=teacher, runs=runs)
