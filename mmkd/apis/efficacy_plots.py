"""Plots of the efficacy benchmark (and of the quickstart's diagnostics).

* ``efficacy_miou.png``: mIoU mean +- std per method, the student alone and
  the teacher as lines;
* ``efficacy_cka.png``: linear CKA of each method's distilled student
  feature to the teacher's before and after training (raw, before any
  connector), with the student trained alone at the same layer;
* ``efficacy_grad_ratio.png``: distillation / task gradient-norm ratio on
  the student over training, per method (mean over seeds).
"""
import os.path as osp
from typing import Dict, List, Optional

import numpy as np

__all__ = ['plot_diagnostics']


def _plt():
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    return plt


def _miou(rows, path):
    plt = _plt()
    methods = [r for r in rows if r['stage'] not in ('teacher', 'baseline')]
    teacher = next(r for r in rows if r['stage'] == 'teacher')
    base = next(r for r in rows if r['stage'] == 'baseline')
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(methods), 3.5))
    x = np.arange(len(methods))
    ax.bar(x, [r['mean'] for r in methods],
           yerr=[r['std'] for r in methods], color='tab:blue', capsize=3)
    ax.axhline(teacher['mean'], color='tab:green', label='teacher')
    ax.axhline(base['mean'], color='tab:red', label='student alone')
    ax.axhspan(base['mean'] - 2 * base['std'], base['mean'] + 2 * base['std'],
               color='tab:red', alpha=0.15, label='student alone ± 2 std')
    ax.set_xticks(x, [r['label'] for r in methods], rotation=30, ha='right')
    lo = min([base['mean'] - 3 * base['std']] +
             [r['mean'] - r['std'] for r in methods]) - 2
    ax.set_ylim(max(0, lo), teacher['mean'] + 3)
    ax.set_ylabel('val mIoU')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _cka(rows, controls, path):
    plt = _plt()
    methods = [r for r in rows if r.get('cka_before_raw') is not None]
    if not methods:
        return False
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(methods), 3.5))
    x = np.arange(len(methods))
    ax.bar(x - 0.2, [r['cka_before_raw'] for r in methods], 0.4,
           label='start (pretrained student)', color='tab:gray')
    ax.bar(x + 0.2, [r['cka_after_raw'] for r in methods], 0.4,
           label='after distillation', color='tab:blue')
    ctrl = [controls.get(r['stage']) for r in methods]
    if any(c is not None for c in ctrl):
        ax.scatter(x + 0.2, [
            np.nan if c is None else next(iter(c.values()))['raw']
            for c in ctrl
        ], color='tab:red', marker='_', s=300, zorder=3,
                   label='student alone, same layer')
    ax.set_xticks(x, [r['label'] for r in methods], rotation=30, ha='right')
    ax.set_ylim(0, 1)
    ax.set_ylabel('linear CKA to the teacher (val)')
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def _ratio(records, path):
    plt = _plt()
    curves: Dict[str, Dict[int, List[float]]] = {}
    for r in records:
        for row in r.get('grad_ratio') or []:
            if 'ratio' in row:
                curves.setdefault(r['stage'], {}).setdefault(
                    row['iter'], []).append(row['ratio'])
    if not curves:
        return False
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for stage, pts in sorted(curves.items()):
        its = sorted(pts)
        ax.plot(its, [np.mean(pts[i]) for i in its], marker='.', label=stage)
    ax.set_xlabel('iteration')
    ax.set_ylabel('|grad distill| / |grad task| (student)')
    ax.set_yscale('log')
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_diagnostics(rows: List[dict], records: List[dict],
                     controls: Optional[dict], out_dir: str) -> List[str]:
    """Write the three plots (those with data) to ``out_dir``."""
    out = []
    path = osp.join(out_dir, 'efficacy_miou.png')
    _miou(rows, path)
    out.append(path)
    path = osp.join(out_dir, 'efficacy_cka.png')
    if _cka(rows, controls or {}, path):
        out.append(path)
    path = osp.join(out_dir, 'efficacy_grad_ratio.png')
    if _ratio(records, path):
        out.append(path)
    return out
