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
:class:`~mmkd.apis.quickstart_results.QuickstartResult`. The plots live in
:mod:`mmkd.apis.report_plots`, the models and features they need in
:mod:`mmkd.apis.report_features`; both are re-exported here.

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
import os
import os.path as osp
from typing import Dict

import numpy as np
import torch

from mmkd.utils.atomic_io import atomic_write_json

from .quickstart_config import QUICKSTART_STAGES
from .report_features import (_features, _icc_feature, _val_batch,
                              fit_connector, icc_matrix, load_model)
from .report_plots import (RUN_COLOURS, plot_icc_heatmaps, plot_loss_curves,
                           plot_miou_bars, plot_prediction_overlays,
                           read_scalars)

__all__ = [
    'RUN_COLOURS', 'read_scalars', 'plot_loss_curves', 'plot_miou_bars',
    'load_model', 'icc_matrix', 'fit_connector', 'plot_icc_heatmaps',
    'plot_prediction_overlays', 'write_report'
]


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
        item, s_name, t_name, loss_cfg = _icc_feature(stages['ickd'].config)
        if item is None:
            raise ValueError(f"{stages['ickd'].config} has no ICKDLoss "
                             'distill item to draw the ICC heatmaps of')
        loss_cfg = dict(loss_cfg)
        loss_cfg.pop('type', None)
        loss_cfg['loss_weight'] = 1.0
        ickd = ICKDLoss(**loss_cfg)
        x = inputs[:num_icc_images]
        f_t = _features(nets['teacher'], x, t_name)
        f_b = _features(nets['baseline'], x, s_name)
        # the ICKD student through its own transforms (connector, resize)
        f_i = models['ickd'].extract(x, transformed=True)[0][item]
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
        atomic_write_json(icc_stats, osp.join(out_dir, 'icc_stats.json'),
                          indent=1)
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
