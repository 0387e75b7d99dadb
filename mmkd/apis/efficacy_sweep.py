"""Loss weights from a sweep on a held-out part of the training split.

The efficacy protocol sets each method's loss weight by the rule in its
config (:mod:`.efficacy_weights`): the distillation gradient is
``grad_ratio`` times the task gradient at the start. Where one ratio does
not suit a method, its ratio may instead be chosen by a sweep that never
reads the val split: a fixed fraction of the *training* images is held
out, and the whole protocol (pretext backbones, teacher, students) runs on
the rest, as if the held-out images were the val split of another dataset
(:func:`holdout_dataset`); the student trains with each candidate ratio
and the ratio with the best mIoU on the held-out images is the one the
config states (with the sweep's command in a comment).

The pretext and the teacher must be retrained for it: held-out images
they were trained on are no proxy for unseen ones (measured: ICKD-S gained
3 mIoU on such images at the ratio that loses 2.5 on val).

``tools/benchmark_efficacy.py --sweep-ratios 0.5 2 8 32 --methods ickd``
runs it; results go to ``<work-dir>/sweep/``. ``--holdout-seed K`` draws
another set of held-out images (``<work-dir>/sweep_draw<K>/``): a ratio
that wins on one draw only is a property of those images, not of the
method.
"""
import os
import os.path as osp
import statistics
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .pretext import read_split

__all__ = ['holdout_dataset', 'sweep_tasks', 'sweep_table', 'best_ratios']


def holdout_dataset(voc_dir: str, out_dir: str, fraction: float = 0.2,
                    seed: int = 0, classes: Sequence[str] = ()) -> str:
    """A VOC-layout view of ``voc_dir`` whose ``val`` split is a fixed
    random ``fraction`` of its training images and whose ``train`` split is
    the rest; ``JPEGImages`` and ``SegmentationClass`` are symlinks, so
    ``voc_dir`` is neither copied nor written. ``classes`` go to
    ``classes.txt``.

    Returns:
        str: ``out_dir``.
    """
    from mmkd.utils.atomic_io import atomic_write_text
    if not 0 < fraction < 1:
        raise ValueError(f'holdout fraction must be in (0, 1), got '
                         f'{fraction}')
    ids = list(read_split(voc_dir, 'train'))
    n = int(round(fraction * len(ids)))
    if not 0 < n < len(ids):
        raise ValueError(f'holding out {fraction:g} of {len(ids)} training '
                         f'images leaves no image on one side')
    order = np.random.default_rng(seed).permutation(len(ids))
    held = set(order[:n].tolist())
    lists = dict(
        train=[sid for i, sid in enumerate(ids) if i not in held],
        val=[ids[i] for i in sorted(held)])
    os.makedirs(osp.join(out_dir, 'ImageSets', 'Segmentation'),
                exist_ok=True)
    for sub in ('JPEGImages', 'SegmentationClass'):
        link = osp.join(out_dir, sub)
        if not osp.islink(link):
            os.symlink(osp.abspath(osp.join(voc_dir, sub)), link)
    for split, names in lists.items():
        atomic_write_text(
            ''.join(sid + '\n' for sid in names),
            osp.join(out_dir, 'ImageSets', 'Segmentation', f'{split}.txt'))
    if classes:
        atomic_write_text(''.join(f'{c}\n' for c in classes),
                          osp.join(out_dir, 'classes.txt'))
    return out_dir


def sweep_tasks(proto, work_dir: str, methods: Sequence[str],
                ratios: Sequence[float], seeds: Sequence[int],
                iters: dict, subdir: str = 'sweep') -> list:
    """Run descriptions (as ``tools/benchmark_efficacy.py`` runs them) of
    the student alone and every (method, ratio, seed) under ``proto`` (the
    protocol of a :func:`holdout_dataset`), in
    ``<work_dir>/<subdir>/<stage>[/ratio<r>]/seed<k>``."""
    tasks = []
    for seed in seeds:
        runs = [('baseline', None)] + [(m, float(r)) for m in methods
                                       for r in ratios]
        for stage, ratio in runs:
            tag = stage if ratio is None else f'{stage}/ratio{ratio:g}'
            tasks.append(dict(
                stage=stage, seed=seed, iters=iters, protocol=proto,
                work_dir=osp.join(work_dir, subdir, tag, f'seed{seed}'),
                grad_ratio=ratio, threads=1, diagnostics=False))
    return tasks


def _held_out(records: List[dict]) -> Dict[Tuple[str, float], List[float]]:
    """(method, ratio) -> held-out mIoU per seed, of the swept runs."""
    groups: Dict[Tuple[str, float], List[float]] = {}
    for r in records:
        if r.get('grad_ratio_override') is not None:
            groups.setdefault((r['stage'], r['grad_ratio_override']),
                              []).append(r['metrics']['mIoU'])
    return groups


def best_ratios(records: List[dict]) -> Dict[str, float]:
    """Method -> the ratio with the best mean held-out mIoU."""
    best: Dict[str, Tuple[float, float]] = {}
    for (m, ratio), vals in _held_out(records).items():
        mean = statistics.fmean(vals)
        if m not in best or mean > best[m][1]:
            best[m] = (ratio, mean)
    return {m: ratio for m, (ratio, _) in best.items()}


def sweep_table(records: List[dict]) -> str:
    """Markdown: held-out mIoU per method and ratio (mean over seeds)."""
    base = [r['metrics']['mIoU'] for r in records if r['stage'] == 'baseline']
    best = best_ratios(records)
    lines = ['| method | grad_ratio | held-out mIoU (seeds) | mean | Δ vs '
             'student alone | chosen |', '|---|---:|---|---:|---:|:-:|']
    b = statistics.fmean(base)
    lines.append(f"| student alone | | {', '.join(f'{v:.2f}' for v in base)}"
                 f' | {b:.2f} | | |')
    for (m, ratio), vals in sorted(_held_out(records).items()):
        mean = statistics.fmean(vals)
        chosen = '**yes**' if best[m] == ratio else ''
        lines.append(f"| {m} | {ratio:g} | "
                     f"{', '.join(f'{v:.2f}' for v in vals)} | {mean:.2f} | "
                     f'{mean - b:+.2f} | {chosen} |')
    return '\n'.join(lines)
