"""Plots of a quickstart (or any teacher / baseline / distilled) run.

All plots use matplotlib's Agg backend (no display needed):

* :func:`plot_loss_curves`: task and distillation losses against the
  iteration, read from each run's mmengine log (``vis_data/scalars.json``);
* :func:`plot_miou_bars`: mIoU of teacher, baseline and distilled students,
  with the fraction of the teacher-student gap each method closes;
* :func:`plot_icc_heatmaps`: inter-channel correlation (ICC) matrices of the
  distilled feature, teacher vs student before distillation (the student
  trained alone) vs after (the ICKD student through its connector);
* :func:`plot_prediction_overlays`: predictions of teacher / baseline /
  distilled students on a few validation images.

:func:`write_report` draws all of them for a
:class:`~mmkd.apis.quickstart.QuickstartResult`.

The ICC of a feature map ``X`` (``C x HW`` per image) is its Gram matrix
``X X^T`` normalised to a cosine similarity,
``R_ij = G_ij / sqrt(G_ii G_jj)``, averaged over images: a ``C x C``
matrix in ``[-1, 1]`` that says which channels fire together. The
students have fewer channels than the teacher. The ICKD student is shown
through the connector it was trained with; the student trained alone is
shown through a connector of the same kind fitted afterwards, with the
same ICKD loss, on the very images shown, its own weights frozen (the most
favourable reading of its features, so "before" is not handicapped by an
untrained connector).
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

__all__ = [
    'read_scalars', 'plot_loss_curves', 'plot_miou_bars', 'icc_matrix',
    'fit_connector', 'plot_icc_heatmaps', 'plot_prediction_overlays',
    'write_report'
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


# --------------------------------------------------------------------------
# models and data for the feature plots
# --------------------------------------------------------------------------
def _build(model_cfg):
    from mmengine.registry import DefaultScope

    from mmkd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmkd'):
        return MODELS.build(model_cfg)


def _no_pretrained(cfg):
    """Drop ImageNet initialisation: every weight comes from a checkpoint."""
    if isinstance(cfg, dict):
        if cfg.get('pretrained') is not None:
            cfg['pretrained'] = None
        init_cfg = cfg.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        for value in cfg.values():
            _no_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _no_pretrained(value)
    return cfg


def load_model(config: str, checkpoint: str):
    """Build a config's model (segmentor or SegDistiller) with weights.

    A distiller's teacher comes from the distiller checkpoint (which holds
    it), so ``teacher_checkpoint`` is not read.
    """
    import copy

    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    cfg = Config.fromfile(config)
    model_cfg = copy.deepcopy(cfg.model)
    if model_cfg.get('type') == 'SegDistiller':
        model_cfg.teacher_checkpoint = None
    _no_pretrained(model_cfg)
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # no "SegDistiller: no checkpoint"
    try:
        model = _build(model_cfg)
    finally:
        logger.setLevel(level)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    model.eval()
    return model


def _val_batch(config: str, data_root: str, num: int) -> Tuple[dict, dict]:
    """The first ``num`` validation images of a config's val set, collated
    (not yet preprocessed), and the dataset's metainfo."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mmkd.registry import DATASETS

    cfg = Config.fromfile(config)
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.data_root = data_root
    with DefaultScope.overwrite_default_scope('mmkd'):
        dataset = DATASETS.build(ds_cfg)
    num = min(num, len(dataset))
    return pseudo_collate([dataset[i] for i in range(num)]), dataset.metainfo


class _Capture:
    """Capture the output of one submodule during a forward pass."""

    def __init__(self, model, name: str):
        self.module = model.get_submodule(name)
        self.value = None

    def __enter__(self):
        self.handle = self.module.register_forward_hook(self._hook)
        return self

    def _hook(self, module, inputs, output):
        self.value = output.detach()

    def __exit__(self, *exc):
        self.handle.remove()


@torch.no_grad()
def _features(segmentor, inputs: torch.Tensor, name: str) -> torch.Tensor:
    with _Capture(segmentor, name) as cap:
        segmentor._forward(inputs)
    if cap.value is None:
        raise RuntimeError(f'{name} did not run in the forward pass')
    return cap.value


# --------------------------------------------------------------------------
# inter-channel correlation
# --------------------------------------------------------------------------
def icc_matrix(feat: torch.Tensor, eps: float = 1e-8) -> np.ndarray:
    """Normalised Gram (cosine ICC) of ``B x C x H x W``, averaged over B."""
    x = feat.double().flatten(2)  # B x C x HW
    gram = x @ x.transpose(1, 2)
    norm = gram.diagonal(dim1=1, dim2=2).clamp_min(eps).sqrt()
    icc = gram / (norm[:, :, None] * norm[:, None, :])
    return icc.mean(0).numpy()


def fit_connector(student: torch.Tensor,
                  teacher: torch.Tensor,
                  loss_fn,
                  steps: int = 200,
                  lr: float = 0.02,
                  seed: int = 0) -> torch.Tensor:
    """Fit a fresh ConvBNConnector from frozen student features to the
    teacher's with ``loss_fn`` (e.g. the ICKD loss); return the mapped
    student features (connector in eval mode).

    This is the "before distillation" reference: what a connector alone
    can do with the features of a student trained without the teacher.
    """
    import torch.nn.functional as F

    from mmkd.models.connectors import ConvBNConnector
    if teacher.shape[-2:] != student.shape[-2:]:
        teacher = F.interpolate(teacher, size=student.shape[-2:],
                                mode='bilinear', align_corners=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        conn = ConvBNConnector(student.shape[1], teacher.shape[1])
    opt = torch.optim.Adam(conn.parameters(), lr=lr)
    with torch.enable_grad():
        conn.train()
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(conn(student), teacher)
            loss.backward()
            opt.step()
        # BN running statistics of the final weights, then eval mode.
        conn.conv.bn.reset_running_stats()
        conn.conv.bn.momentum = None
        with torch.no_grad():
            conn(student)
    conn.eval()
    with torch.no_grad():
        return conn(student)


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


# --------------------------------------------------------------------------
# the quickstart report
# --------------------------------------------------------------------------
def _icc_feature(cfg_path: str) -> Tuple[str, str, Optional[dict]]:
    """(student module, teacher module, loss cfg) of the first ICKD item."""
    from mmengine.config import Config
    cfg = Config.fromfile(cfg_path)
    for item in cfg.model.get('distill', []):
        if item['loss']['type'] == 'ICKDLoss':
            s, t = item['student_feature'], item['teacher_feature']
            s = s['module'] if isinstance(s, dict) else s
            t = t['module'] if isinstance(t, dict) else t
            return s, t, dict(item['loss'])
    return 'decode_head.bottleneck', 'decode_head.bottleneck', None


@torch.no_grad()
def write_report(result, out_dir: str, num_icc_images: int = 16,
                 num_overlays: int = 4) -> Dict[str, str]:
    """Write the quickstart's plots to ``out_dir``.

    Args:
        result (QuickstartResult): What :func:`run_quickstart` trained.
        out_dir (str): Output directory.
        num_icc_images (int): Validation images the ICC matrices are
            averaged over.
        num_overlays (int): Validation images shown with predictions.

    Returns:
        dict: file name -> path of every file written.
    """
    from mmkd.apis.quickstart import QUICKSTART_STAGES
    from mmkd.models.losses import ICKDLoss

    os.makedirs(out_dir, exist_ok=True)
    stages = result.stages
    labels = {k: QUICKSTART_STAGES[k]['label'] for k in stages}
    written = {}

    runs = [(k, labels[k], v.scalars) for k, v in stages.items()]
    written['loss_curves.png'] = plot_loss_curves(
        runs, osp.join(out_dir, 'loss_curves.png'))
    written['miou_bars.png'] = plot_miou_bars(
        result.rows(), osp.join(out_dir, 'miou_bars.png'),
        title='mIoU on the synthetic VOC val split')

    # Models (eval mode) and a batch of validation images.
    models = {k: load_model(v.config, v.checkpoint)
              for k, v in stages.items()}
    nets = {
        k: (m.student if hasattr(m, 'student') else m)
        for k, m in models.items()
    }
    batch, meta = _val_batch(stages['baseline'].config, result.data_root,
                             max(num_icc_images, num_overlays))
    data = nets['baseline'].data_preprocessor(batch, False)
    inputs, samples = data['inputs'], data['data_samples']

    # ICC heatmaps: teacher vs student alone vs ICKD student.
    if 'ickd' in stages:
        import torch.nn.functional as F
        s_name, t_name, loss_cfg = _icc_feature(stages['ickd'].config)
        loss_cfg = dict(loss_cfg or dict(grid_size=(1, 1)))
        loss_cfg.pop('type', None)
        loss_cfg['loss_weight'] = 1.0
        ickd = ICKDLoss(**loss_cfg)
        x = inputs[:num_icc_images]
        f_t = _features(nets['teacher'], x, t_name)
        f_b = _features(nets['baseline'], x, s_name)
        f_i = _features(nets['ickd'], x, s_name)
        f_i = models['ickd'].connectors['loss_ickd'](f_i)
        if f_i.shape[-2:] != f_t.shape[-2:]:
            f_i = F.interpolate(f_i, size=f_t.shape[-2:], mode='bilinear',
                                align_corners=False)
        f_b_conn = fit_connector(f_b, f_t, ickd)
        dist = dict(
            baseline=float(ickd(f_b_conn, f_t)), ickd=float(ickd(f_i, f_t)))
        c_t, c_s = f_t.shape[1], f_b.shape[1]
        grid = 'x'.join(str(g) for g in ickd.grid_size)
        titles = dict(
            teacher=f'Teacher ({c_t} channels)',
            baseline=('Before: student alone\n+ connector fitted after '
                      f'training ({c_s}->{c_t} ch)\nICKD loss '
                      f'{dist["baseline"]:.3g} ({grid} grid)'),
            ickd=('After: ICKD-S student\n+ its own connector '
                  f'({c_s}->{c_t} ch)\nICKD loss {dist["ickd"]:.3g} '
                  f'({grid} grid)'))
        errors = plot_icc_heatmaps(
            dict(teacher=icc_matrix(f_t), baseline=icc_matrix(f_b_conn),
                 ickd=icc_matrix(f_i)),
            osp.join(out_dir, 'icc_heatmaps.png'),
            titles=titles,
            extra=('baseline_own', icc_matrix(f_b),
                   f'Student alone, its own {c_s} channels'),
            suptitle=f'Inter-channel correlation (cosine-normalised Gram) '
            f'of {t_name}, {len(x)} val images; channels ordered by '
            "clustering the teacher's matrix")
        written['icc_heatmaps.png'] = osp.join(out_dir, 'icc_heatmaps.png')
        icc_stats = dict(
            feature=t_name, images=len(x), grid=list(ickd.grid_size),
            ickd_loss=dist, mean_abs_icc_diff=errors)
        with open(osp.join(out_dir, 'icc_stats.json'), 'w') as f:
            json.dump(icc_stats, f, indent=1)
        written['icc_stats.json'] = osp.join(out_dir, 'icc_stats.json')

    # Prediction overlays.
    k = min(num_overlays, len(inputs))
    preds = {}
    for name in ('teacher', 'baseline') + tuple(
            s for s in stages if s not in ('teacher', 'baseline')):
        out = nets[name].predict(inputs[:k], samples[:k])
        preds[name] = [o.pred_sem_seg.data[0].numpy().astype(np.int64)
                       for o in out]
    images = [
        batch['inputs'][i].permute(1, 2, 0).numpy()[..., ::-1]  # BGR->RGB
        for i in range(k)
    ]
    gts = [
        s.gt_sem_seg.data[0].numpy().astype(np.int64)
        for s in batch['data_samples'][:k]
    ]
    classes = meta.get('classes') or [str(i) for i in range(256)]
    palette = meta.get('palette') or [[0, 0, 0]] * len(classes)
    col_titles = {
        name: f"{labels[name].split(' (')[0]}\nmIoU {stages[name].miou:.1f}"
        for name in preds
    }
    written['predictions.png'] = plot_prediction_overlays(
        images, gts, preds, classes, palette,
        osp.join(out_dir, 'predictions.png'), titles=col_titles)
    return written
