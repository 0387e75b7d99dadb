"""Linear CKA between the student's and the teacher's distilled features.

For every distill item of a distillation config, the features that the
loss compares are recorded on val images through
:meth:`~mmkd.models.distillers.Distiller.extract` and compared with linear
CKA (Kornblith et al., ICML 2019): rows are samples (pixels of a
``B x C x H x W`` map, or rows of a ``B x D`` embedding), columns are
channels, and

    CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)

with ``Xc``, ``Yc`` column-centred. It is 1 for features equal up to an
orthogonal map and a scale, and works across channel counts. Two versions
per item: ``transformed`` (after the item's transforms, e.g. through the
connector: what the loss sees) and ``raw`` (before them: comparable
between a distilled student and the student trained alone, which has no
trained connector). :func:`icc_mean_share` measures how much of ICKD-S's
cell matrices the channel means explain (docs/efficacy.md).
"""
import copy
import logging
from typing import Dict, Optional

import torch
from mmengine.logging import MMLogger

__all__ = ['linear_cka', 'feature_rows', 'distill_cka', 'icc_mean_share',
           'same_size_batches']


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> float:
    """Linear CKA of two ``N x P`` and ``N x Q`` matrices (same rows)."""
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f'linear_cka needs two N x P matrices with the same '
                         f'N, got {tuple(x.shape)} and {tuple(y.shape)}')
    if x.shape[0] < 2:
        raise ValueError('linear_cka needs at least 2 rows')
    x = x.double() - x.double().mean(0, keepdim=True)
    y = y.double() - y.double().mean(0, keepdim=True)
    hsic = (y.T @ x).pow(2).sum()
    den = (x.T @ x).norm() * (y.T @ y).norm()
    if float(den) == 0.0:
        return float('nan')
    return float(hsic / den)


def feature_rows(t: torch.Tensor) -> torch.Tensor:
    """Samples as rows: ``B x C x H x W -> (B H W) x C``; ``B x D`` as is;
    ``B x D x 1 x 1`` -> ``B x D``."""
    if t.ndim == 4:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
    if t.ndim == 2:
        return t
    return t.reshape(t.shape[0], -1)


def icc_mean_share(x: torch.Tensor, grid: int) -> float:
    """How much of ICKD-S's cell matrices the channel means alone explain.

    Each of the ``grid x grid`` cells of a ``B x C x H x W`` map gives a
    ``C x P`` matrix ``F`` (``P`` pixels) and its ICC matrix
    ``G = F F^T``. With ``m`` the cell's channel means, ``G`` splits into
    ``M = P m m^T`` (the means' outer product) plus ``P`` times the
    channels' covariance over the cell, both positive semi-definite, and

        share = ||M||_F^2 / ||G||_F^2   (in [0, 1])

    averaged over cells and images. Near 1 (e.g. after a ReLU, every channel
    non-negative) matching ``G`` asks the student little more than the
    per-cell mean of each channel; 0 for zero-mean channels.

    Args:
        x (Tensor): ``B x C x H x W`` features.
        grid (int): Cells per side, split as ``torch.tensor_split`` does.

    Returns:
        float: The mean share; NaN if every cell is all zeros.
    """
    if x.ndim != 4:
        raise ValueError(f'icc_mean_share needs a B x C x H x W map, got '
                         f'{tuple(x.shape)}')
    if grid < 1 or grid > min(x.shape[2:]):
        raise ValueError(f'grid {grid} must be in [1, {min(x.shape[2:])}] '
                         f'for a {x.shape[2]}x{x.shape[3]} map')
    shares = []
    for rows in torch.tensor_split(x.double(), grid, dim=2):
        for cell in torch.tensor_split(rows, grid, dim=3):
            f = cell.flatten(2)  # B x C x P
            g = f @ f.transpose(1, 2)
            m = f.mean(2, keepdim=True)
            mm = f.shape[2] * (m @ m.transpose(1, 2))
            den = g.pow(2).sum((1, 2))
            keep = den > 0
            shares.append(mm.pow(2).sum((1, 2))[keep] / den[keep])
    shares = torch.cat(shares)
    return float(shares.mean()) if shares.numel() else float('nan')


def same_size_batches(dataset, n: int, size: int = 16):
    """The first ``n`` samples of ``dataset``, collated in batches of up
    to ``size`` consecutive samples of one image size (a test-mode data
    preprocessor stacks one size only; VOC's images vary)."""
    from mmengine.dataset import pseudo_collate
    batch = []
    for i in range(n):
        sample = dataset[i]
        if batch and (len(batch) == size or sample['inputs'].shape !=
                      batch[0]['inputs'].shape):
            yield pseudo_collate(batch)
            batch = []
        batch.append(sample)
    if batch:
        yield pseudo_collate(batch)


def _first(v):
    return v[0] if isinstance(v, (tuple, list)) else v


def init_quietly(model) -> None:
    """``model.init_weights()`` with mmengine's logger at WARNING: without
    a log file mmengine logs every parameter's init at INFO (thousands of
    lines per model in the benchmark's console)."""
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        model.init_weights()
    finally:
        logger.setLevel(level)


def _model(cfg, student_checkpoint: Optional[str], seed: int):
    from mmengine.registry import DefaultScope
    from mmengine.runner import set_random_seed

    from mmkd.registry import MODELS
    set_random_seed(seed)
    with DefaultScope.overwrite_default_scope('mmkd'):
        model = MODELS.build(copy.deepcopy(cfg.model))
    init_quietly(model)  # the start of training: pretrained backbone
    if student_checkpoint is not None:
        from mmengine.runner.checkpoint import _load_checkpoint
        ckpt = _load_checkpoint(student_checkpoint, map_location='cpu')
        state = ckpt.get('state_dict', ckpt)
        if any(k.startswith('student.') for k in state):
            # a distiller's checkpoint: student, teacher, connectors
            model.load_state_dict(state, strict=True)
        else:  # a plain segmentor: the student alone
            model.student.load_state_dict(state, strict=True)
    from mmengine.device import get_device
    model.to(get_device())  # the GPU where there is one, as training
    model.eval()
    return model


def distill_cka(cfg, student_checkpoint: Optional[str] = None,
                max_images: int = 64, seed: int = 0) -> Dict[str, dict]:
    """CKA per distill item on the val split.

    Args:
        cfg: A distillation config (teacher checkpoint set, student's
            pretrained init set as for training).
        student_checkpoint (str, optional): None for the student at the
            start of training; a distiller checkpoint (its student and
            connectors) or a plain segmentor's (the student alone; the
            connectors keep their initial weights).
        max_images (int): Val images used (the first ones).
        seed (int): Seed of the initialisation.

    Returns:
        dict: item name -> ``dict(raw=float, transformed=float)``.
    """
    from mmengine.registry import DefaultScope

    from mmkd.registry import DATASETS
    model = _model(cfg, student_checkpoint, seed)
    with DefaultScope.overwrite_default_scope('mmkd'):
        dataset = DATASETS.build(copy.deepcopy(cfg.val_dataloader.dataset))
    n = min(max_images, len(dataset))
    feats = {}
    with DefaultScope.overwrite_default_scope('mmkd'), torch.no_grad():
        for batch in same_size_batches(dataset, n):
            data = model.data_preprocessor(batch, False)
            for kind, flag in (('raw', False), ('transformed', True)):
                s, t = model.extract(data['inputs'], data['data_samples'],
                                     transformed=flag)
                for name in s:
                    rows = feats.setdefault(name, {}).setdefault(
                        kind, ([], []))
                    rows[0].append(
                        feature_rows(_first(s[name]).float()).cpu())
                    rows[1].append(
                        feature_rows(_first(t[name]).float()).cpu())
    out = {}
    for name, kinds in feats.items():
        out[name] = {
            kind: linear_cka(torch.cat(a), torch.cat(b))
            for kind, (a, b) in kinds.items()
        }
    model.remove_hooks()
    return out
