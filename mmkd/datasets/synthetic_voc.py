"""A synthetic segmentation dataset written in the exact Pascal VOC layout.

Pascal VOC cannot be downloaded everywhere (CI, offline machines), so mmkd's
quickstart and tests distill on a generated dataset that mmseg loads with its
own dataset classes and pipelines::

    <root>/VOC2012/JPEGImages/<id>.jpg
    <root>/VOC2012/SegmentationClass/<id>.png      # mode 'P', VOC palette
    <root>/VOC2012/ImageSets/Segmentation/train.txt
    <root>/VOC2012/ImageSets/Segmentation/val.txt
    <root>/VOC2012/meta.json                         # request + statistics

The task is meant to be learnable but not trivial:

* object classes are defined by *shape* only (disc, ring, triangle, ...):
  every class draws its colours and textures from the same distribution,
  so colour carries no class information;
* objects are vivid and backgrounds muted (greyish colours), as objects
  stand out from their surroundings in photos; version 1 drew both from
  one distribution, which made figure/ground itself a matter of shape and
  left the task unlearnable in a few CPU minutes (every model predicted
  background only);
* backgrounds are cluttered with textured blobs and wiggly lines that are
  not objects, a fifth of them vivid (hard negatives);
* objects vary in scale, aspect and rotation, are truncated by the image
  border and occlude each other (labels follow the visible surface);
* the thin ``bar`` class is 1.5-3.5 px wide at 128 px; class frequencies are
  skewed and background dominates, as in VOC;
* optionally (default) a VOC-like void band (label 255) is drawn along the
  visible outline of every object, on the side of whatever lies behind it,
  so thin objects keep all their pixels.

Everything is a deterministic function of ``seed`` (numpy ``Generator``
seeded per image, drawing with cv2, fixed JPEG settings): the same request
gives byte-identical files.

Loading it with mmseg
---------------------
``PascalVOCDataset(metainfo=dict(classes=SYNTHETIC_CLASSES, ...))`` does
**not** work: mmseg's ``BaseSegDataset.get_label_map`` raises ``ValueError``
when the given classes are not a subset of the class's own ``METAINFO``
classes (VOC's 21 names). Use :class:`SyntheticVOCDataset` (a
``PascalVOCDataset`` whose ``METAINFO`` is the synthetic one, registered in
``mmkd.registry.DATASETS``), or mmseg's ``BaseSegDataset`` (empty
``METAINFO`` -> no label map) with ``metainfo=SYNTHETIC_METAINFO``. Both load
the PNG indices unchanged.

Modules
-------
This module writes and caches datasets (:func:`generate_synthetic_voc`) and
re-exports the rest: classes and palette from
:mod:`~mmkd.datasets.synthetic_classes`, the drawing of one sample
(:func:`render_sample`) from :mod:`~mmkd.datasets.synthetic_render`, and
:class:`SyntheticVOCDataset` from :mod:`~mmkd.datasets.synthetic_dataset`.
"""
import json
import os
import os.path as osp
import shutil
import uuid
from typing import Optional

import numpy as np
from PIL import Image

from .synthetic_classes import (SYNTHETIC_CLASSES, SYNTHETIC_METAINFO,
                                SYNTHETIC_PALETTE, _check_num_classes,
                                _VOC_PALETTE_FLAT, synthetic_metainfo,
                                voc_palette)
from .synthetic_dataset import SyntheticVOCDataset
from .synthetic_render import render_sample

__all__ = [
    'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE', 'SYNTHETIC_METAINFO',
    'GENERATOR_VERSION', 'voc_palette', 'synthetic_metainfo',
    'generate_synthetic_voc', 'load_synthetic_meta', 'render_sample',
    'SyntheticVOCDataset', 'LAYOUTS'
]

# Recorded in meta.json: a dataset is reused only if they match.
GENERATOR_NAME = 'mmkd.datasets.synthetic_voc'
# Bump whenever the generated files change (rendering or writing).
GENERATOR_VERSION = 2
JPEG_QUALITY = 90


_SPLIT_CODE = dict(train=0, val=1)

#: Object layouts (keyword arguments of :func:`render_sample`): ``voc`` is
#: generator version 2's (1-6 objects, radius 8-40% of the side), ``large``
#: the efficacy benchmark's for 64 px images: 1-4 objects, radius 14-42%,
#: bars at least 2 px wide, so that a model at output stride 8 sees every
#: object, and a milder class skew per instance (1.9x between the most and
#: least common shape instead of 5x; by pixels the thin bar stays rarest):
#: still cluttered, occluded, truncated and imbalanced.
LAYOUTS = dict(
    voc=dict(max_objects=6, radius=(0.08, 0.4), min_bar_px=0.0),
    large=dict(
        max_objects=4,
        radius=(0.14, 0.42),
        min_bar_px=2.0,
        class_weights=(0.15, 0.12, 0.13, 0.14, 0.10, 0.09, 0.08, 0.11,
                       0.08)))


def _sample_id(split: str, idx: int) -> str:
    return f'{split}_{idx:06d}'


def _save_label(label: np.ndarray, path: str) -> None:
    label = np.ascontiguousarray(label, np.uint8)
    png = Image.frombytes('P', (label.shape[1], label.shape[0]),
                          label.tobytes())
    png.putpalette(_VOC_PALETTE_FLAT)
    png.save(path, format='PNG', optimize=False)


def _request(num_train: int, num_val: int, img_size: int, seed: int,
             num_classes: int, ignore_border: bool,
             border_width: int, layout: str = 'voc') -> dict:
    out = dict(
        generator=GENERATOR_NAME,
        version=GENERATOR_VERSION,
        seed=int(seed),
        img_size=int(img_size),
        num_train=int(num_train),
        num_val=int(num_val),
        num_classes=int(num_classes),
        classes=list(SYNTHETIC_CLASSES[:num_classes]),
        ignore_border=bool(ignore_border),
        border_width=int(border_width) if ignore_border else 0,
        jpeg_quality=JPEG_QUALITY)
    if layout != 'voc':  # version 2's requests (and caches) stay as they were
        out['layout'] = layout
    return out


def load_synthetic_meta(voc_dir: str) -> Optional[dict]:
    """``meta.json`` of a generated ``VOC2012`` dir, or None if absent/bad."""
    try:
        with open(osp.join(voc_dir, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_complete(voc_dir: str, meta: dict) -> bool:
    for split in ('train', 'val'):
        lst = osp.join(voc_dir, 'ImageSets', 'Segmentation', f'{split}.txt')
        try:
            with open(lst) as f:
                ids = [ln.strip() for ln in f if ln.strip()]
        except OSError:
            return False
        if len(ids) != meta[f'num_{split}']:
            return False
        for i in ids:
            if not (osp.isfile(osp.join(voc_dir, 'JPEGImages', i + '.jpg'))
                    and osp.isfile(
                        osp.join(voc_dir, 'SegmentationClass', i + '.png'))):
                return False
    return True


def _matches(meta: Optional[dict], request: dict) -> bool:
    return meta is not None and all(
        meta.get(k) == v for k, v in request.items())


#: Samples rendered per task of a worker pool.
_CHUNK = 64


def _write_samples(job) -> np.ndarray:
    """Render and write samples ``lo..hi-1`` of a split (each from its own
    seed, so any split of the work writes the same files); returns their
    pixel counts per label value."""
    out, request, split, lo, hi = job
    size, k = request['img_size'], request['num_classes']
    counts = np.zeros(256, np.int64)
    for idx in range(lo, hi):
        sid = _sample_id(split, idx)
        rng = np.random.default_rng(
            [request['seed'], _SPLIT_CODE[split], idx])
        img, label = render_sample(
            rng, size, k, request['ignore_border'],
            request['border_width'] or None,
            **LAYOUTS[request.get('layout', 'voc')])
        Image.fromarray(img).save(
            osp.join(out, 'JPEGImages', sid + '.jpg'), format='JPEG',
            quality=JPEG_QUALITY, subsampling=0, optimize=False)
        _save_label(label, osp.join(out, 'SegmentationClass', sid + '.png'))
        counts += np.bincount(label.ravel(), minlength=256)
    return counts


def _write_dataset(out: str, request: dict, workers: int = 1) -> dict:
    k = request['num_classes']
    for sub in ('JPEGImages', 'SegmentationClass',
                osp.join('ImageSets', 'Segmentation')):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    stats = {}
    for split in ('train', 'val'):
        n = request[f'num_{split}']
        counts = np.zeros(256, np.int64)
        ids = [_sample_id(split, idx) for idx in range(n)]
        jobs = [(out, request, split, lo, min(n, lo + _CHUNK))
                for lo in range(0, n, _CHUNK)]
        if workers > 1 and len(jobs) > 1:
            import multiprocessing as mp
            with mp.get_context('fork').Pool(min(workers, len(jobs))) as pool:
                parts = pool.map(_write_samples, jobs)
        else:
            parts = map(_write_samples, jobs)
        for part in parts:
            counts += part
        with open(osp.join(out, 'ImageSets', 'Segmentation', f'{split}.txt'),
                  'w') as f:
            f.write(''.join(i + '\n' for i in ids))
        stats[split] = dict(
            pixel_counts={c: int(counts[i])
                          for i, c in enumerate(request['classes'])},
            ignore_pixels=int(counts[255]))
    meta = dict(request)
    meta['palette'] = [list(p) for p in SYNTHETIC_PALETTE[:k]]
    meta['stats'] = stats
    # meta.json is written last: a dir without it is never reused
    with open(osp.join(out, 'meta.json'), 'w') as f:
        json.dump(meta, f, indent=1)
    return meta


def generate_synthetic_voc(root: str,
                           num_train: int = 600,
                           num_val: int = 150,
                           img_size: int = 128,
                           seed: int = 0,
                           num_classes: Optional[int] = None,
                           ignore_border: bool = True,
                           border_width: Optional[int] = None,
                           overwrite: bool = False,
                           verbose: bool = False,
                           layout: str = 'voc',
                           workers: int = 1) -> str:
    """Generate (or reuse) a synthetic dataset in Pascal VOC layout.

    Args:
        root (str): Output root; the dataset is ``<root>/VOC2012``.
        num_train (int): Number of ``train`` images. Defaults to 600.
        num_val (int): Number of ``val`` images. Defaults to 150.
        img_size (int): Square image side in pixels. Defaults to 128.
        seed (int): Seed; same arguments give byte-identical files.
        num_classes (int, optional): Classes incl. background, a prefix of
            :data:`SYNTHETIC_CLASSES` (2..10). Defaults to all 10.
        ignore_border (bool): Draw a void (255) band around objects.
        border_width (int, optional): Band width in px; defaults to
            ``max(1, round(img_size / 128))``.
        overwrite (bool): Regenerate even if a matching dataset exists.
        verbose (bool): Print what is done.
        layout (str): Object layout, a key of :data:`LAYOUTS` (``'voc'``,
            the default, or ``'large'``: fewer, larger objects).
        workers (int): Processes that render the samples; the files do
            not depend on it. Defaults to 1.

    Returns:
        str: Path of the ``VOC2012`` directory (use it as ``data_root``).

    If ``<root>/VOC2012/meta.json`` matches the request and all listed files
    exist, nothing is written. Otherwise the dataset is written into a
    temporary sibling directory and renamed into place, so a half-written
    dataset is never picked up. A ``VOC2012`` directory that was not made by
    this generator (e.g. real VOC) is never deleted unless ``overwrite``.
    """
    if num_train < 0 or num_val < 0:
        raise ValueError('num_train and num_val must be >= 0')
    if img_size < 16:
        raise ValueError(f'img_size must be >= 16, got {img_size}')
    k = _check_num_classes(num_classes)
    if layout not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; choose from '
                         f'{sorted(LAYOUTS)}')
    if border_width is None:
        border_width = max(1, int(round(img_size / 128)))
    request = _request(num_train, num_val, img_size, seed, k, ignore_border,
                       border_width, layout)
    root = osp.abspath(root)
    voc_dir = osp.join(root, 'VOC2012')
    meta = load_synthetic_meta(voc_dir)
    if (not overwrite and _matches(meta, request)
            and _is_complete(voc_dir, meta)):
        if verbose:
            print(f'synthetic VOC up to date: {voc_dir}')
        return voc_dir
    if (osp.exists(voc_dir) and not overwrite
            and (meta is None or meta.get('generator') != GENERATOR_NAME)
            and os.listdir(voc_dir)):
        raise FileExistsError(
            f'{voc_dir} exists and was not written by {GENERATOR_NAME} (no '
            'valid meta.json); refusing to replace it. Pick another root or '
            'pass overwrite=True.')

    os.makedirs(root, exist_ok=True)
    tag = f'{os.getpid()}-{uuid.uuid4().hex[:8]}'
    tmp_dir = osp.join(root, f'.VOC2012.tmp-{tag}')
    old_dir = osp.join(root, f'.VOC2012.old-{tag}')
    if verbose:
        print(f'generating synthetic VOC ({num_train} train, {num_val} val, '
              f'{img_size}px, {k} classes, seed {seed}) in {voc_dir}')
    try:
        _write_dataset(tmp_dir, request, workers)
        if osp.lexists(voc_dir):
            os.rename(voc_dir, old_dir)
        try:
            os.rename(tmp_dir, voc_dir)
        except OSError:
            # another process won the race: keep its copy if it matches
            other = load_synthetic_meta(voc_dir)
            if not (_matches(other, request)
                    and _is_complete(voc_dir, other)):
                raise
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
        shutil.rmtree(old_dir, ignore_errors=True)
    return voc_dir
