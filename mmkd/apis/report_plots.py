"""The plots of a quickstart report (matplotlib, Agg backend).

* :func:`plot_loss_curves`: task and distillation losses against the
  iteration, read from each run's mmengine log (``vis_data/scalars.json``);
* :func:`plot_miou_bars`: mIoU of teacher, baseline and distilled students,
  with the fraction of the teacher-student gap each method closes;
* :func:`plot_icc_heatmaps`: inter-channel correlation (ICC) matrices next
  to the teacher's, and their differences;
* :func:`plot_prediction_overlays`: predictions of several models on a few
  images.

Every function takes plain arrays / records and writes one PNG; none needs
a model (see :mod:`mmkd.apis.report_features` for those).
"""
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = [
    'RUN_COLOURS', 'read_scalars', 'plot_loss_curves', 'plot_miou_bars',
    'plot_icc_heatmaps', 'plot_prediction_overlays'
]

# Colours of the runs, shared by every plot.
RUN_COLOURS = dict(
    teacher='#4c4c4c', baseline='#1f77b4', ickd='#d62728', kd='#2ca02c',
    cwd='#9467bd', at='#8c564b', fitnet='#e377c2')


def _plt():
    import matplotlib
    matplotlib.use('Agg', force=True)
    import matplotlib.pyplot as plt
    return plt


def _colour(name: str, index: int = 0) -> str:
    return RUN_COLOURS.get(name, f'C{index % 10}')


# --------------------------------------------------------------------------
# loss curves and mIoU bars
# --------------------------------------------------------------------------
def read_scalars(path: str) -> Tuple[List[dict], List[dict]]:
    """Read an mmengine ``scalars.json`` (one JSON object per line).

    Returns:
        tuple: ``(train, val)`` lists of records; training records are
        those with a ``loss`` key, validation ones those with ``mIoU``.
    """
    train, val = [], []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if 'loss' in rec:
                train.append(rec)
            elif 'mIoU' in rec:
                val.append(rec)
    return train, val


def plot_loss_curves(runs: Sequence[Tuple[str, str, Optional[str]]],
                     out_path: str) -> str:
    """Plot losses of several runs from their mmengine scalar logs.

    Args:
        runs: ``(name, label, scalars_json_path)`` per run; runs without a
            log are skipped.
        out_path (str): PNG to write.

    Three panels: the decode head's cross-entropy (the task loss every run
    shares), each distillation term (``distill.*``, log scale, with its
    loss weight applied, as optimised) and the total loss.
    """
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.6))
    any_distill = False
    for i, (name, label, path) in enumerate(runs):
        if not path or not osp.isfile(path):
            continue
        train, _ = read_scalars(path)
        if not train:
            continue
        it = [r.get('iter', r.get('step')) for r in train]
        colour = _colour(name, i)
        style = '--' if name == 'teacher' else '-'
        if any('decode.loss_ce' in r for r in train):
            axes[0].plot(it, [r.get('decode.loss_ce', np.nan) for r in train],
                         style, color=colour, label=label)
        axes[2].plot(it, [r['loss'] for r in train], style, color=colour,
                     label=label)
        for key in sorted({k for r in train for k in r
                           if k.startswith('distill.')}):
            any_distill = True
            axes[1].plot(it, [r.get(key, np.nan) for r in train],
                         color=colour, label=f'{label}: {key[8:]}')
    axes[0].set_title('task loss (decode head cross-entropy)')
    axes[1].set_title('distillation loss (weighted, as optimised)')
    axes[2].set_title('total loss (task + auxiliary + distillation)')
    for ax in axes:
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
    if any_distill:
        axes[1].set_yscale('log')
        axes[1].legend(fontsize=8)
    else:
        axes[1].text(0.5, 0.5, 'no distillation runs', ha='center',
                     va='center', transform=axes[1].transAxes)
    axes[0].legend(fontsize=8)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def plot_miou_bars(rows: Sequence[dict], out_path: str,
                   title: str = 'mIoU on the validation split') -> str:
    """Bar chart of mIoU per model.

    Args:
        rows: dicts with ``stage``, ``label``, ``mIoU`` and, for distilled
            students, ``gap`` (fraction of the gap closed, or None); an
            optional ``std`` draws an error bar.
        out_path (str): PNG to write.
    """
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(rows) + 2), 4.8))
    x = np.arange(len(rows))
    vals = [r['mIoU'] for r in rows]
    errs = [r.get('std') or 0 for r in rows]
    colours = [_colour(r['stage'], i) for i, r in enumerate(rows)]
    ax.bar(x, vals, yerr=errs if any(errs) else None, color=colours,
           capsize=4, width=0.6)
    top = max(vals) if vals else 1
    for i, r in enumerate(rows):
        text = f"{r['mIoU']:.1f}"
        if r.get('gap') is not None:
            text += f"\n{100 * r['gap']:+.0f}% of gap"
        elif 'gap' in r:
            text += '\ngap n/a'
        ax.text(i, r['mIoU'] + errs[i] + 0.015 * top, text, ha='center',
                va='bottom', fontsize=9)
    by_stage = {r['stage']: r['mIoU'] for r in rows}
    for stage, ls in (('teacher', '--'), ('baseline', ':')):
        if stage in by_stage:
            ax.axhline(by_stage[stage], color=_colour(stage), ls=ls, lw=1,
                       alpha=0.8)
    ax.set_xticks(x)
    ax.set_xticklabels([r['label'].replace(' (', '\n(') for r in rows],
                       fontsize=9)
    ax.set_ylabel('mIoU (%)')
    ax.set_ylim(0, top * 1.22 + 1)
    ax.set_title(title)
    ax.grid(axis='y', alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def _cluster_order(icc: np.ndarray) -> np.ndarray:
    """Channel order that groups correlated channels (average linkage)."""
    try:
        from scipy.cluster.hierarchy import leaves_list, linkage
        from scipy.spatial.distance import squareform
    except ImportError:  # pragma: no cover - scipy ships with mmseg's deps
        return np.argsort(-icc.mean(0))
    dist = np.clip(1 - icc, 0, 2)
    dist = (dist + dist.T) / 2
    np.fill_diagonal(dist, 0)
    return leaves_list(linkage(squareform(dist, checks=False), 'average'))


def plot_icc_heatmaps(panels: Dict[str, np.ndarray],
                      out_path: str,
                      teacher_key: str = 'teacher',
                      titles: Optional[Dict[str, str]] = None,
                      extra: Optional[Tuple[str, np.ndarray, str]] = None,
                      suptitle: Optional[str] = None) -> Dict[str, float]:
    """Heatmaps of ICC matrices next to the teacher's, and their errors.

    Args:
        panels: name -> ``C x C`` ICC; all in the teacher's channel space,
            ``teacher_key`` first.
        out_path (str): PNG to write.
        titles: name -> panel title.
        extra: ``(name, matrix, title)`` of one more matrix drawn under the
            teacher (e.g. the student's own, smaller ICC).
        suptitle: figure title.

    Returns:
        dict: name -> mean absolute difference to the teacher's ICC.
    """
    plt = _plt()
    titles = titles or {}
    names = [teacher_key] + [k for k in panels if k != teacher_key]
    order = _cluster_order(panels[teacher_key])
    teacher = panels[teacher_key][np.ix_(order, order)]
    ncol = len(names)
    fig, axes = plt.subplots(2, ncol, figsize=(4.3 * ncol, 8.6))
    axes = np.asarray(axes).reshape(2, ncol)
    errors = {}
    diffs = {}
    for j, name in enumerate(names):
        mat = panels[name][np.ix_(order, order)]
        ax = axes[0, j]
        im = ax.imshow(mat, cmap='RdBu_r', vmin=-1, vmax=1,
                       interpolation='nearest')
        ax.set_title(titles.get(name, name), fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        if name != teacher_key:
            diffs[name] = np.abs(mat - teacher)
            errors[name] = float(diffs[name].mean())
    fig.colorbar(im, ax=list(axes[0]), fraction=0.02, pad=0.01,
                 label='channel correlation (cosine)')
    vmax = max([d.max() for d in diffs.values()] + [1e-6])
    dim = None
    for j, name in enumerate(names):
        ax = axes[1, j]
        ax.set_xticks([])
        ax.set_yticks([])
        if name == teacher_key:
            if extra is None:
                ax.axis('off')
                continue
            e_name, e_mat, e_title = extra
            e_order = _cluster_order(e_mat)
            ax.imshow(e_mat[np.ix_(e_order, e_order)], cmap='RdBu_r',
                      vmin=-1, vmax=1, interpolation='nearest')
            ax.set_title(e_title, fontsize=10)
            continue
        dim = ax.imshow(diffs[name], cmap='magma', vmin=0, vmax=vmax,
                        interpolation='nearest')
        ax.set_title(f'|{titles.get(name, name).splitlines()[0]} - teacher|'
                     f'\nmean {errors[name]:.3f}', fontsize=10)
    if dim is not None:
        fig.colorbar(dim, ax=list(axes[1]), fraction=0.02, pad=0.01,
                     label='|ICC difference|')
    if suptitle:
        fig.suptitle(suptitle, fontsize=11)
    fig.savefig(out_path, dpi=100, bbox_inches='tight')
    plt.close(fig)
    return errors


def _overlay(img_rgb: np.ndarray, label: np.ndarray, palette: np.ndarray,
             alpha: float = 0.6) -> np.ndarray:
    out = img_rgb.astype(np.float32).copy()
    colours = np.zeros_like(out)
    valid = (label > 0) & (label < len(palette))
    colours[valid] = palette[label[valid]]
    out[valid] = (1 - alpha) * out[valid] + alpha * colours[valid]
    out[label == 255] = 0.5 * out[label == 255] + 0.5 * 255
    return np.clip(out, 0, 255).astype(np.uint8)


def plot_prediction_overlays(images: Sequence[np.ndarray],
                             gts: Sequence[np.ndarray],
                             preds: Dict[str, Sequence[np.ndarray]],
                             classes: Sequence[str],
                             palette: Sequence[Sequence[int]],
                             out_path: str,
                             titles: Optional[Dict[str, str]] = None) -> str:
    """Grid of images x (input, ground truth, one column per model).

    Class colours are blended over the image (background left as is; void
    pixels of the ground truth whitened); a legend names the classes.
    """
    plt = _plt()
    from matplotlib.patches import Patch
    titles = titles or {}
    palette = np.asarray(palette, np.float32)
    cols = ['image', 'ground truth'] + list(preds)
    n = len(images)
    fig, axes = plt.subplots(n, len(cols),
                             figsize=(2.3 * len(cols), 2.3 * n + 0.9))
    axes = np.asarray(axes).reshape(n, len(cols))
    for i in range(n):
        panels = [images[i], _overlay(images[i], gts[i], palette)]
        for name in preds:
            pred = preds[name][i]
            acc = float(((pred == gts[i]) & (gts[i] != 255)).sum() /
                        max(1, (gts[i] != 255).sum()))
            panels.append((_overlay(images[i], pred, palette), acc))
        for j, panel in enumerate(panels):
            ax = axes[i, j]
            acc = None
            if isinstance(panel, tuple):
                panel, acc = panel
            ax.imshow(panel, interpolation='nearest')
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(titles.get(cols[j], cols[j]), fontsize=9)
            if acc is not None:
                ax.text(0.03, 0.97, f'acc {100 * acc:.0f}%',
                        transform=ax.transAxes, ha='left', va='top',
                        fontsize=7, bbox=dict(boxstyle='round,pad=0.2',
                                              fc='white', alpha=0.75,
                                              lw=0))
    handles = [
        Patch(color=palette[k] / 255, label=classes[k])
        for k in range(1, len(classes))
    ]
    fig.legend(handles=handles, loc='lower center', ncol=min(9, len(handles)),
               fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.6 / (2.3 * n + 0.9), 1, 1))
    fig.savefig(out_path, dpi=100)
    plt.close(fig)
    return out_path
