"""Backbone pretraining on a classification pretext: the ImageNet analogue.

The papers distil students that start from ImageNet-pretrained backbones
into converged teachers that did the same. On a dataset in the Pascal VOC
layout mmkd builds the analogue from the dataset itself: every object of
the *training* split (a connected region of one class in its label map) is
cut out with a margin, resized to a small square and labelled with its
class; a few crops of pure background are labelled 0. A backbone (any
mmseg backbone config; a global-average-pooled linear classifier on its
last stage) is trained on these crops, and its weights initialise the
segmentation backbone through mmengine's ``Pretrained`` init
(:func:`set_pretrained`). Nothing of the val split is read.

The pretrained backbone is cached: ``<cache_dir>/pretext_cache.json``
records the checkpoint under the SHA-256 of what it learns from (backbone
config, recipe, and the training split's file list and label statistics),
like the quickstart's teacher cache.
"""
import hashlib
import json
import os
import os.path as osp
import time
from typing import Callable, Dict, Optional, Sequence, Tuple

import cv2
import numpy as np

from mmkd.utils.atomic_io import atomic_write_json

__all__ = [
    'PRETEXT_RECIPE', 'read_split', 'extract_object_crops',
    'pretrain_backbone', 'pretext_backbone', 'set_pretrained',
    'prepare_backbones', 'PRETEXT_ITERS'
]

#: Default pretext recipe (keyword arguments of :func:`pretrain_backbone`
#: and of :func:`extract_object_crops`).
PRETEXT_RECIPE = dict(
    crop_size=32, margin=0.2, views=2, background_crops=1, min_area=12,
    iters=600, batch_size=64, lr=3e-3, weight_decay=0.01, seed=0)

Logger = Callable[[str], None]


def read_split(voc_dir: str, split: str) -> Sequence[str]:
    """Ids listed in ``ImageSets/Segmentation/<split>.txt``."""
    path = osp.join(voc_dir, 'ImageSets', 'Segmentation', f'{split}.txt')
    if not osp.isfile(path):
        raise FileNotFoundError(f'no {split} split list at {path}')
    with open(path) as f:
        return [ln.split()[0] for ln in f if ln.strip()]


def _load_pair(voc_dir: str, sid: str) -> Tuple[np.ndarray, np.ndarray]:
    img = cv2.imread(osp.join(voc_dir, 'JPEGImages', sid + '.jpg'),
                     cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {sid}.jpg in {voc_dir}')
    from PIL import Image
    lab = np.asarray(
        Image.open(osp.join(voc_dir, 'SegmentationClass', sid + '.png')))
    if lab.ndim != 2 or lab.shape != img.shape[:2]:
        raise ValueError(f'label of {sid} is not a {img.shape[:2]} index map')
    return img[..., ::-1].copy(), lab  # RGB, as the models see it


def _crop(img: np.ndarray, box, size: int) -> np.ndarray:
    x0, y0, x1, y1 = box
    h, w = img.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad,
                                 cv2.BORDER_REFLECT_101)
        x0, y0, x1, y1 = x0 + pad, y0 + pad, x1 + pad, y1 + pad
    return cv2.resize(img[y0:y1, x0:x1], (size, size),
                      interpolation=cv2.INTER_AREA)


def extract_object_crops(voc_dir: str,
                         num_classes: int,
                         split: str = 'train',
                         crop_size: int = 32,
                         margin: float = 0.2,
                         views: int = 2,
                         background_crops: int = 1,
                         min_area: int = 12,
                         seed: int = 0,
                         **_) -> Tuple[np.ndarray, np.ndarray]:
    """Object crops of a VOC-layout split, labelled by class.

    Each connected region of a class (>= ``min_area`` pixels) gives
    ``views`` square crops around its box (side ``(1 + 2 * margin)`` times
    the box's longer side, centre and side jittered by 10%); each image
    gives ``background_crops`` crops of at least 90% background (class 0).

    Returns:
        tuple: uint8 RGB crops ``(N, crop_size, crop_size, 3)`` and int64
        labels ``(N,)``.
    """
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    for sid in read_split(voc_dir, split):
        img, lab = _load_pair(voc_dir, sid)
        h, w = lab.shape
        for c in range(1, num_classes):
            mask = (lab == c).astype(np.uint8)
            if not mask.any():
                continue
            n, _, stats, _ = cv2.connectedComponentsWithStats(mask, 8)
            for x, y, bw, bh, area in stats[1:]:
                if area < min_area:
                    continue
                for _ in range(views):
                    side = max(bw, bh) * (1 + 2 * margin)
                    side *= rng.uniform(0.9, 1.1)
                    cx = x + bw / 2 + rng.uniform(-0.1, 0.1) * side
                    cy = y + bh / 2 + rng.uniform(-0.1, 0.1) * side
                    half = max(4, int(round(side / 2)))
                    box = (int(cx) - half, int(cy) - half, int(cx) + half,
                           int(cy) + half)
                    crops.append(_crop(img, box, crop_size))
                    labels.append(c)
        side = max(8, min(h, w) // 3)
        bg = (lab == 0)
        for _ in range(background_crops):
            for _try in range(10):
                x0 = int(rng.integers(0, w - side + 1))
                y0 = int(rng.integers(0, h - side + 1))
                if bg[y0:y0 + side, x0:x0 + side].mean() >= 0.9:
                    crops.append(
                        _crop(img, (x0, y0, x0 + side, y0 + side),
                              crop_size))
                    labels.append(0)
                    break
    if not crops:
        raise ValueError(f'no object of >= {min_area} px in the {split} '
                         f'split of {voc_dir}')
    return np.stack(crops), np.asarray(labels, np.int64)


def pretrain_backbone(backbone_cfg: dict,
                      crops: np.ndarray,
                      labels: np.ndarray,
                      num_classes: int,
                      mean: Sequence[float],
                      std: Sequence[float],
                      iters: int = 600,
                      batch_size: int = 64,
                      lr: float = 3e-3,
                      weight_decay: float = 0.01,
                      seed: int = 0,
                      log: Optional[Logger] = print,
                      **_) -> Tuple[Dict[str, 'object'], float]:
    """Train ``backbone + GAP + linear`` to classify the crops.

    AdamW with a cosine decay, class-balanced batches (every class as
    likely), random flips and 90-degree rotations.

    Returns:
        tuple: the backbone's ``state_dict`` and the final training
        accuracy over the last 50 iterations.
    """
    import torch
    import torch.nn.functional as F
    from mmengine.device import get_device
    from mmseg.registry import MODELS

    import mmkd  # noqa: F401

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    backbone = MODELS.build(dict(backbone_cfg, init_cfg=None))
    backbone.init_weights()
    with torch.no_grad():
        probe = backbone(torch.zeros(1, 3, crops.shape[1], crops.shape[2]))
    channels = probe[-1].shape[1]
    head = torch.nn.Linear(channels, num_classes)
    device = get_device()  # the GPU where there is one, as the runner
    backbone.to(device)
    head.to(device)
    params = list(backbone.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda i: 0.5 * (1 + np.cos(np.pi * min(i, iters) / iters)))
    x_all = torch.from_numpy(crops).permute(0, 3, 1, 2).float()
    x_all = (x_all - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(
        std).view(1, 3, 1, 1)
    y_all = torch.from_numpy(labels)
    # class-balanced sampling: each present class equally likely
    counts = np.bincount(labels, minlength=num_classes).astype(float)
    p = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0)[labels]
    p /= p.sum()
    backbone.train()
    hits = []
    start = time.time()
    for it in range(iters):
        idx = torch.from_numpy(rng.choice(len(labels), batch_size, p=p))
        x, y = x_all[idx].to(device), y_all[idx].to(device)
        if rng.random() < 0.5:
            x = x.flip(3)
        k = int(rng.integers(0, 4))
        if k:
            x = torch.rot90(x, k, (2, 3))
        logits = head(backbone(x)[-1].mean((2, 3)))
        loss = F.cross_entropy(logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        hits.append(float((logits.detach().argmax(1) == y).float().mean()))
        if log and ((it + 1) % max(1, iters // 10) == 0 or it + 1 == iters):
            log(f'pretext iter {it + 1}/{iters}: loss {loss.item():.3f}, '
                f'train acc (last 50) {np.mean(hits[-50:]):.3f}, '
                f'{time.time() - start:.0f} s')
    state = {k: v.detach().cpu().clone()
             for k, v in backbone.state_dict().items()}
    return state, float(np.mean(hits[-50:]))


def _split_signature(voc_dir: str, num_classes: int) -> str:
    h = hashlib.sha256()
    for sid in read_split(voc_dir, 'train'):
        h.update(sid.encode())
        for sub, ext in (('JPEGImages', '.jpg'), ('SegmentationClass',
                                                  '.png')):
            st = os.stat(osp.join(voc_dir, sub, sid + ext))
            h.update(f'{st.st_size}'.encode())
    h.update(str(num_classes).encode())
    return h.hexdigest()


def pretext_backbone(voc_dir: str,
                     backbone_cfg: dict,
                     num_classes: int,
                     cache_dir: str,
                     mean: Sequence[float],
                     std: Sequence[float],
                     recipe: Optional[dict] = None,
                     rebuild: bool = False,
                     log: Optional[Logger] = print) -> dict:
    """Pretrain (or reuse) a backbone on the pretext of ``voc_dir``.

    Args:
        voc_dir (str): The VOC-layout dataset (only its train split is read).
        backbone_cfg (dict): An mmseg backbone config.
        num_classes (int): Classes of the dataset, background included.
        cache_dir (str): Where the checkpoint and its record are kept.
        mean, std: The segmentation model's input normalisation.
        recipe (dict, optional): Overrides of :data:`PRETEXT_RECIPE`.
        rebuild (bool): Retrain even if a valid cache exists.

    Returns:
        dict: ``checkpoint`` (path), ``train_acc``, ``num_crops``,
        ``train_time_s``, ``cached``.
    """
    import torch

    from mmkd.utils.plain import canonical

    recipe = dict(PRETEXT_RECIPE, **(recipe or {}))
    payload = dict(
        format=1,
        backbone=canonical(backbone_cfg),
        recipe=canonical(recipe),
        mean=list(mean),
        std=list(std),
        data=_split_signature(voc_dir, num_classes))
    key = hashlib.sha256(
        json.dumps(payload, sort_keys=True).encode()).hexdigest()
    os.makedirs(cache_dir, exist_ok=True)
    record_path = osp.join(cache_dir, 'pretext_cache.json')
    ckpt = osp.join(cache_dir, f'backbone_{key[:12]}.pth')
    if not rebuild and osp.isfile(record_path) and osp.isfile(ckpt):
        with open(record_path) as f:
            record = json.load(f)
        if record.get('key') == key:
            record.update(checkpoint=ckpt, cached=True)
            if log:
                log(f'pretext: cached backbone {ckpt} (train acc '
                    f"{record['train_acc']:.3f})")
            return record
    start = time.time()
    crops, labels = extract_object_crops(voc_dir, num_classes, **recipe)
    if log:
        log(f'pretext: {len(labels)} crops of {num_classes} classes from '
            f'the train split (per class: '
            f'{np.bincount(labels, minlength=num_classes).tolist()})')
    state, acc = pretrain_backbone(backbone_cfg, crops, labels, num_classes,
                                   mean, std, log=log, **recipe)
    tmp = ckpt + '.tmp'
    torch.save(dict(state_dict=state, meta=dict(pretext_key=key)), tmp)
    os.replace(tmp, ckpt)
    record = dict(
        key=key,
        train_acc=acc,
        num_crops=int(len(labels)),
        train_time_s=time.time() - start)
    atomic_write_json(record, record_path, indent=1)
    record.update(checkpoint=ckpt, cached=False)
    return record


def set_pretrained(model_cfg: dict, checkpoint: str) -> None:
    """Initialise a segmentor config's backbone from ``checkpoint``."""
    model_cfg['backbone']['init_cfg'] = dict(
        type='Pretrained', checkpoint=checkpoint)
    model_cfg['pretrained'] = None


#: Pretext iterations per role (``--iters pretext=N`` sets both).
PRETEXT_ITERS = dict(teacher=1500, student=1500)


def prepare_backbones(voc_dir: str,
                      work_dir: str,
                      num_classes: int,
                      iters: Optional[int] = None,
                      rebuild: bool = False,
                      log: Optional[Logger] = print,
                      profile=None) -> Dict[str, dict]:
    """Pretext-pretrain (or reuse) the quickstart teacher's and student's
    backbones (``configs/quickstart/_base_/models.py``, or a ``profile``'s
    models and pretext recipe: :mod:`~mmkd.apis.quickstart_profile`) on
    ``voc_dir``.

    Cached in ``<work_dir>/pretext/<role>``.

    Returns:
        dict: ``teacher`` / ``student`` -> the record of
        :func:`pretext_backbone`.
    """
    from mmengine.config import Config

    from .quickstart_config import quickstart_config_dir
    models = profile if profile is not None else Config.fromfile(
        osp.join(quickstart_config_dir(), '_base_', 'models.py'))
    extra = profile.pretext.to_dict() if profile is not None else {}
    out = {}
    for role in ('teacher', 'student'):
        model = models[f'{role}_model']
        dp = model['data_preprocessor']
        n = iters or PRETEXT_ITERS[role]
        if log:
            log(f'pretext: {role} backbone ({n} iterations)')
        out[role] = pretext_backbone(
            voc_dir,
            model['backbone'].to_dict(),
            num_classes,
            osp.join(work_dir, 'pretext', role),
            dp['mean'],
            dp['std'],
            recipe=dict(extra, iters=n),
            rebuild=rebuild,
            log=log)
    return out
