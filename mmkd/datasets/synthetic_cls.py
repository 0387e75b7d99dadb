"""A synthetic classification dataset in ImageFolder (ImageNet) layout.

The classification quickstart and the tests train on generated images that
mmpretrain's ``CustomDataset`` / ``ImageNet`` read exactly as they read
ImageNet's folder layout::

    <root>/train/<class>/<class>_000000.JPEG
    <root>/val/<class>/<class>_000000.JPEG
    <root>/meta.json                 # the request, written last

One object per image; the class is its **shape** (disc, ring, triangle,
...), drawn with the shapes, textures and cluttered backgrounds of mmkd's
synthetic VOC generator (:mod:`mmkd.datasets.synthetic_render`): every class
draws its colours and textures from the same distribution, so colour says
nothing about the class, and the background carries blobs and scribbles
that are not objects. Objects vary in size, aspect, rotation and position
and are lit unevenly. Classes are balanced.

Everything is a deterministic function of ``seed``: the same request gives
byte-identical files, and a matching complete dataset is reused.
"""
import json
import math
import os
import os.path as osp
import shutil
import uuid
from typing import Optional, Tuple

import cv2
import numpy as np
from PIL import Image

# The VOC generator's drawing primitives (private there: a change to them
# changes these images too; bump SYNTHETIC_CLS_VERSION then).
from .synthetic_render import (_ASPECT, _background, _Canvas,
                               _shape_polygons, _smooth_field, _texture)

__all__ = [
    'SYNTHETIC_CLS_CLASSES', 'SYNTHETIC_CLS_VERSION', 'render_cls_sample',
    'generate_synthetic_cls', 'load_synthetic_cls_meta'
]

GENERATOR_NAME = 'mmkd.datasets.synthetic_cls'
SYNTHETIC_CLS_VERSION = 1
JPEG_QUALITY = 90

#: Class names, in the (sorted) order mmpretrain gives their folders.
SYNTHETIC_CLS_CLASSES: Tuple[str, ...] = tuple(
    sorted(('arrow', 'bar', 'crescent', 'cross', 'disc', 'rectangle', 'ring',
            'star', 'triangle')))

# Object radius as a fraction of the image side (log-uniform), and where
# its centre may lie (fraction of the side): large and mostly visible.
_RADIUS = (0.2, 0.42)
_CENTRE = (0.3, 0.7)
_SPLIT_CODE = dict(train=0, val=1)


def _place(name: str, rng: np.random.Generator,
           size: int) -> list:
    """Polygons of one shape, scaled, rotated and placed, in pixels."""
    if name == 'bar':
        polys = [(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float), 1)]
        sx = math.exp(rng.uniform(math.log(0.3), math.log(0.45))) * size
        sy = rng.uniform(0.04, 0.08) * size
    else:
        polys = _shape_polygons(name, rng)
        sx = math.exp(rng.uniform(*np.log(_RADIUS))) * size
        sy = sx * rng.uniform(*_ASPECT[name])
    rot = rng.uniform(0, 2 * np.pi)
    cx, cy = rng.uniform(*_CENTRE, size=2) * size
    c, s = math.cos(rot), math.sin(rot)
    out = []
    for pts, val in polys:
        x, y = pts[:, 0] * sx, pts[:, 1] * sy
        out.append((np.stack([cx + c * x - s * y, cy + s * x + c * y], 1),
                    val))
    return out


def render_cls_sample(rng: np.random.Generator, label: int,
                      img_size: int = 64) -> np.ndarray:
    """Render one uint8 RGB ``(H, W, 3)`` image of class ``label``."""
    name = SYNTHETIC_CLS_CLASSES[label]
    cv = _Canvas(img_size)
    img = _background(rng, cv)
    alpha = cv.alpha(_place(name, rng, img_size))
    if rng.random() < 0.25:  # slightly soft edges
        alpha = cv2.GaussianBlur(alpha, (3, 3), 0.6)
    tex = _texture(rng, cv, 'object')
    if rng.random() < 0.3:  # shading across the object
        g = _smooth_field(rng, img_size, 3)
        tex = np.clip(tex * (0.7 + 0.6 * g), 0, 1)
    img = img * (1 - alpha[..., None]) + tex * alpha[..., None]
    gx, gy = rng.uniform(-0.35, 0.35, 2)
    illum = 1 + (gx * (cv.xs / img_size - 0.5) + gy *
                 (cv.ys / img_size - 0.5))
    img = img * illum[..., None] * rng.uniform(0.8, 1.15)
    img = img + rng.normal(0, rng.uniform(0.0, 0.04), img.shape)
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def _request(num_train: int, num_val: int, img_size: int,
             seed: int) -> dict:
    return dict(
        generator=GENERATOR_NAME,
        version=SYNTHETIC_CLS_VERSION,
        seed=int(seed),
        img_size=int(img_size),
        num_train_per_class=int(num_train),
        num_val_per_class=int(num_val),
        classes=list(SYNTHETIC_CLS_CLASSES),
        jpeg_quality=JPEG_QUALITY)


def _file_name(name: str, idx: int) -> str:
    return f'{name}_{idx:06d}.JPEG'


def load_synthetic_cls_meta(root: str) -> Optional[dict]:
    """``<root>/meta.json`` of a generated dataset, or None."""
    try:
        with open(osp.join(root, 'meta.json')) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def _is_complete(root: str, meta: dict) -> bool:
    for split in ('train', 'val'):
        n = meta[f'num_{split}_per_class']
        for name in meta['classes']:
            for idx in (0, n - 1) if n else ():
                if not osp.isfile(
                        osp.join(root, split, name, _file_name(name, idx))):
                    return False
    return True


def _write(out: str, request: dict) -> None:
    size = request['img_size']
    for split in ('train', 'val'):
        n = request[f'num_{split}_per_class']
        for label, name in enumerate(SYNTHETIC_CLS_CLASSES):
            folder = osp.join(out, split, name)
            os.makedirs(folder, exist_ok=True)
            for idx in range(n):
                rng = np.random.default_rng(
                    [request['seed'], _SPLIT_CODE[split], label, idx])
                Image.fromarray(render_cls_sample(rng, label, size)).save(
                    osp.join(folder, _file_name(name, idx)),
                    format='JPEG', quality=JPEG_QUALITY, subsampling=0,
                    optimize=False)
    with open(osp.join(out, 'meta.json'), 'w') as f:  # written last
        json.dump(request, f, indent=1)


def generate_synthetic_cls(root: str,
                           num_train: int = 200,
                           num_val: int = 50,
                           img_size: int = 64,
                           seed: int = 0,
                           overwrite: bool = False,
                           verbose: bool = False) -> str:
    """Generate (or reuse) the synthetic ImageFolder dataset.

    Args:
        root (str): Output directory (``<root>/train``, ``<root>/val``).
        num_train (int): Training images per class. Defaults to 200.
        num_val (int): Validation images per class. Defaults to 50.
        img_size (int): Square image side in pixels. Defaults to 64.
        seed (int): Seed; the same arguments give byte-identical files.
        overwrite (bool): Regenerate even if a matching dataset exists.
        verbose (bool): Print what is done.

    Returns:
        str: ``root`` as an absolute path (use it as ``data_root``).

    Raises:
        ValueError: Bad sizes.
        FileExistsError: ``root`` holds something this generator did not
            write (it is never deleted unless ``overwrite``).
    """
    if num_train < 1 or num_val < 1:
        raise ValueError('num_train and num_val must be >= 1 per class')
    if img_size < 16:
        raise ValueError(f'img_size must be >= 16, got {img_size}')
    request = _request(num_train, num_val, img_size, seed)
    root = osp.abspath(root)
    meta = load_synthetic_cls_meta(root)
    if not overwrite and meta is not None and all(
            meta.get(k) == v for k, v in request.items()) and _is_complete(
                root, meta):
        if verbose:
            print(f'synthetic classification data up to date: {root}')
        return root
    if osp.isdir(root) and os.listdir(root) and not overwrite and (
            meta is None or meta.get('generator') != GENERATOR_NAME):
        raise FileExistsError(
            f'{root} exists and was not written by {GENERATOR_NAME} (no '
            f'valid meta.json); refusing to replace it. Pick another root '
            f'or pass overwrite=True.')
    if verbose:
        k = len(SYNTHETIC_CLS_CLASSES)
        print(f'generating synthetic classification data ({k} classes x '
              f'{num_train} train / {num_val} val, {img_size}px, seed '
              f'{seed}) in {root}')
    parent = osp.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tag = f'{os.getpid()}-{uuid.uuid4().hex[:8]}'
    tmp = osp.join(parent, f'.{osp.basename(root)}.tmp-{tag}')
    old = osp.join(parent, f'.{osp.basename(root)}.old-{tag}')
    try:
        _write(tmp, request)
        if osp.lexists(root):
            os.rename(root, old)
        os.rename(tmp, root)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    return root
