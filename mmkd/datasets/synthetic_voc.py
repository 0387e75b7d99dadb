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
"""
import json
import math
import os
import os.path as osp
import shutil
import uuid
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from PIL import Image

__all__ = [
    'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE', 'SYNTHETIC_METAINFO',
    'GENERATOR_VERSION', 'voc_palette', 'synthetic_metainfo',
    'generate_synthetic_voc', 'load_synthetic_meta', 'render_sample',
    'SyntheticVOCDataset'
]

GENERATOR_NAME = 'mmkd.datasets.synthetic_voc'
GENERATOR_VERSION = 2
JPEG_QUALITY = 90
_SUPERSAMPLE = 4

SYNTHETIC_CLASSES: Tuple[str, ...] = ('background', 'disc', 'ring',
                                      'triangle', 'rectangle', 'cross',
                                      'star', 'crescent', 'bar', 'arrow')

# Relative frequency of each object class *per instance* (same order as
# SYNTHETIC_CLASSES[1:]). Skewed like VOC: a few common classes, some rare
# ones; ``bar`` is also tiny in area so it is the rarest class by pixels.
_CLASS_WEIGHTS = (0.20, 0.12, 0.16, 0.18, 0.09, 0.08, 0.04, 0.08, 0.05)


def voc_palette(num: int = 256) -> List[List[int]]:
    """Pascal VOC's colour map (index -> [r, g, b]); 255 is (224, 224, 192)."""
    palette = []
    for i in range(num):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette.append([r, g, b])
    return palette


_VOC_PALETTE_FLAT = [v for rgb in voc_palette(256) for v in rgb]
SYNTHETIC_PALETTE: List[List[int]] = voc_palette(len(SYNTHETIC_CLASSES))
SYNTHETIC_METAINFO = dict(
    classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE)


def _check_num_classes(num_classes: Optional[int]) -> int:
    if num_classes is None:
        return len(SYNTHETIC_CLASSES)
    num_classes = int(num_classes)
    if not 2 <= num_classes <= len(SYNTHETIC_CLASSES):
        raise ValueError(f'num_classes must be in [2, '
                         f'{len(SYNTHETIC_CLASSES)}] (background included),'
                         f' got {num_classes}')
    return num_classes


def synthetic_metainfo(num_classes: Optional[int] = None) -> dict:
    """``dict(classes=..., palette=...)`` for a dataset of ``num_classes``.

    ``num_classes`` counts background; the classes are a prefix of
    :data:`SYNTHETIC_CLASSES`. Pass it as ``metainfo`` to
    :class:`SyntheticVOCDataset` or mmseg's ``BaseSegDataset``.
    """
    k = _check_num_classes(num_classes)
    return dict(
        classes=tuple(SYNTHETIC_CLASSES[:k]),
        palette=[list(p) for p in SYNTHETIC_PALETTE[:k]])


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------
def _circle(n: int = 48, r: float = 1.0, cx: float = 0.0,
            cy: float = 0.0) -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _shape_polygons(name: str, rng: np.random.Generator
                    ) -> List[Tuple[np.ndarray, int]]:
    """Polygons of a unit-size shape as ``[(points, fill_value), ...]``.

    Points are in a local frame roughly within [-1, 1]^2; polygons are filled
    in order, value 1 adds and value 0 cuts a hole.
    """
    if name == 'disc':
        return [(_circle(), 1)]
    if name == 'ring':
        return [(_circle(), 1), (_circle(r=rng.uniform(0.45, 0.7)), 0)]
    if name == 'triangle':
        ang = np.deg2rad(np.array([90., 210., 330.]) +
                         rng.uniform(-15, 15, size=3))
        rad = rng.uniform(0.85, 1.0, size=3)
        return [(np.stack([rad * np.cos(ang), rad * np.sin(ang)], 1), 1)]
    if name == 'rectangle':
        return [(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float), 1)]
    if name == 'cross':
        t = rng.uniform(0.2, 0.36)
        pts = [(-t, -1), (t, -1), (t, -t), (1, -t), (1, t), (t, t), (t, 1),
               (-t, 1), (-t, t), (-1, t), (-1, -t), (-t, -t)]
        return [(np.array(pts, float), 1)]
    if name == 'star':
        inner = rng.uniform(0.36, 0.5)
        t = np.arange(10) * np.pi / 5 - np.pi / 2
        rad = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        return [(np.stack([rad * np.cos(t), rad * np.sin(t)], 1), 1)]
    if name == 'crescent':
        r2 = rng.uniform(0.75, 1.0)
        d = rng.uniform(0.4, 0.65)
        return [(_circle(), 1), (_circle(r=r2, cx=d), 0)]
    if name == 'arrow':
        t = rng.uniform(0.12, 0.2)
        h = rng.uniform(0.4, 0.55)
        neck = rng.uniform(0.1, 0.35)
        pts = [(-1, -t), (neck, -t), (neck, -h), (1, 0), (neck, h), (neck, t),
               (-1, t)]
        return [(np.array(pts, float), 1)]
    raise ValueError(f'unknown shape {name}')


# Object size: radius as a fraction of the image side, log-uniform.
_RADIUS = (0.08, 0.4)

# (min, max) of the y/x aspect applied before rotation, per shape.
_ASPECT = dict(
    disc=(0.9, 1.1), ring=(0.9, 1.1), triangle=(0.65, 1.2),
    rectangle=(0.3, 1.0), cross=(0.8, 1.2), star=(0.85, 1.15),
    crescent=(0.8, 1.2), arrow=(0.6, 1.0))


class _Canvas:
    """Coordinate grids and polygon rasterisation for one image size."""

    def __init__(self, size: int):
        self.size = size
        self.ss = _SUPERSAMPLE
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
        self.xs, self.ys = xs, ys

    def alpha(self, polys: Sequence[Tuple[np.ndarray, int]]) -> np.ndarray:
        """Anti-aliased coverage in [0, 1] of polygons in pixel units."""
        ss, n = self.ss, self.size * self.ss
        mask = np.zeros((n, n), np.uint8)
        for pts, val in polys:
            # pixel centre (x, y) -> supersampled coordinates, 4 shift bits
            p = ((pts + 0.5) * ss - 0.5) * 16
            cv2.fillPoly(mask, [np.round(p).astype(np.int32)], int(val) * 255,
                         lineType=cv2.LINE_8, shift=4)
        small = cv2.resize(mask, (self.size, self.size),
                           interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0

    def polyline_alpha(self, pts: np.ndarray, thickness: float) -> np.ndarray:
        ss, n = self.ss, self.size * self.ss
        mask = np.zeros((n, n), np.uint8)
        p = ((pts + 0.5) * ss - 0.5) * 16
        cv2.polylines(mask, [np.round(p).astype(np.int32)], False, 255,
                      thickness=max(1, int(round(thickness * ss))),
                      lineType=cv2.LINE_8, shift=4)
        small = cv2.resize(mask, (self.size, self.size),
                           interpolation=cv2.INTER_AREA)
        return small.astype(np.float32) / 255.0


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    hsv = np.array([[[h * 179.0, s * 255.0, v * 255.0]]], np.float32)
    rgb = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)
    return rgb[0, 0].astype(np.float32) / 255.0


# Two colour families. Objects are vivid (saturated, bright); backgrounds
# and their clutter are muted (greyish). Both draw the hue uniformly, and
# every object class draws from the same family, so colour says "object or
# not" (as texture statistics do in real photos) but never *which* object:
# the class is in the shape alone.
_PALETTES = dict(
    object=dict(sat=(0.55, 1.0), val=(0.55, 1.0)),
    background=dict(sat=(0.0, 0.35), val=(0.2, 0.85)))


def _colour(rng: np.random.Generator, family: str = 'object') -> np.ndarray:
    fam = _PALETTES[family]
    return _hsv_to_rgb(rng.random(), rng.uniform(*fam['sat']),
                       rng.uniform(*fam['val']))


def _smooth_field(rng: np.random.Generator, size: int, cells: int,
                  channels: int = 1) -> np.ndarray:
    low = rng.random((cells, cells, channels)).astype(np.float32)
    up = cv2.resize(low, (size, size), interpolation=cv2.INTER_CUBIC)
    return up.reshape(size, size, channels)


# Texture kinds and their probabilities, per colour family.
_TEXTURE_KINDS = ('solid', 'stripes', 'checker', 'gradient', 'noise',
                  'smooth', 'multicolour')
_TEXTURE_PROBS = dict(
    object=(0.30, 0.17, 0.10, 0.20, 0.05, 0.13, 0.05),
    background=(0.10, 0.17, 0.12, 0.15, 0.16, 0.16, 0.14))


def _texture(rng: np.random.Generator, cv: _Canvas,
             family: str = 'object') -> np.ndarray:
    """A random (size, size, 3) texture in [0, 1] of one colour family;
    the same for every object class."""
    s = cv.size
    c1, c2 = _colour(rng, family), _colour(rng, family)
    kind = rng.choice(_TEXTURE_KINDS, p=_TEXTURE_PROBS[family])
    theta = rng.uniform(0, np.pi)
    u = cv.xs * math.cos(theta) + cv.ys * math.sin(theta)
    v = -cv.xs * math.sin(theta) + cv.ys * math.cos(theta)
    if kind == 'solid':
        tex = np.broadcast_to(c1, (s, s, 3))
    elif kind == 'stripes':
        period = rng.uniform(3, 16) * s / 128
        phase = rng.random()
        if rng.random() < 0.5:
            t = ((u / period + phase) % 1.0 < rng.uniform(0.3, 0.7))
            t = t.astype(np.float32)
        else:
            t = 0.5 + 0.5 * np.sin(2 * np.pi * (u / period + phase))
        tex = c1 + (c2 - c1) * t[..., None]
    elif kind == 'checker':
        cell = rng.uniform(3, 12) * s / 128
        t = (np.floor(u / cell) + np.floor(v / cell)) % 2
        tex = c1 + (c2 - c1) * t[..., None].astype(np.float32)
    elif kind == 'gradient':
        lo, span = rng.uniform(-s, s), rng.uniform(0.3, 1.5) * s
        t = np.clip((u - lo) / span, 0, 1)
        tex = c1 + (c2 - c1) * t[..., None]
    elif kind == 'noise':
        sigma = rng.uniform(0.05, 0.2)
        tex = c1 + rng.normal(0, sigma, (s, s, 3)).astype(np.float32)
    elif kind == 'smooth':
        t = _smooth_field(rng, s, int(rng.integers(3, 9)))
        tex = c1 + (c2 - c1) * t
    else:  # several colours of the family blended by a smooth field
        cols = np.stack([_colour(rng, family) for _ in range(3)])
        wts = _smooth_field(rng, s, int(rng.integers(2, 7)), 3) ** 2
        wts /= wts.sum(-1, keepdims=True) + 1e-6
        tex = wts @ cols
    tex = tex + rng.normal(0, 0.02, (s, s, 3)).astype(np.float32)
    return np.clip(tex, 0, 1).astype(np.float32)


# Hard negatives: the fraction of clutter drawn with vivid (object) colours.
_VIVID_CLUTTER = 0.2


def _background(rng: np.random.Generator, cv: _Canvas) -> np.ndarray:
    """Muted textured background with clutter that is not an object class:
    irregular blobs and wiggly lines, a few of them vivid like objects."""
    s = cv.size

    def family():
        return 'object' if rng.random() < _VIVID_CLUTTER else 'background'

    img = _texture(rng, cv, 'background')
    # irregular blobs: thresholded smooth noise (no object-like outline)
    for _ in range(int(rng.integers(1, 4))):
        field = _smooth_field(rng, s, int(rng.integers(5, 10)))[..., 0]
        thr = np.quantile(field, rng.uniform(0.85, 0.95))
        a = cv2.GaussianBlur((field > thr).astype(np.float32), (3, 3), 0.7)
        img = img * (1 - a[..., None]) + _texture(rng, cv,
                                                  family()) * a[..., None]
    # wiggly lines / scribbles: clearly curved so they are not ``bar``
    for _ in range(int(rng.integers(0, 4))):
        n = 40
        t = np.linspace(0, 1, n)
        p0 = rng.uniform(0, s, 2)
        ang = rng.uniform(0, 2 * np.pi)
        length = rng.uniform(0.3, 1.0) * s
        amp = rng.uniform(0.06, 0.2) * s
        freq = rng.uniform(1.0, 3.0)
        along = t * length
        across = amp * np.sin(2 * np.pi * freq * t + rng.uniform(0, 6.3))
        x = p0[0] + along * math.cos(ang) - across * math.sin(ang)
        y = p0[1] + along * math.sin(ang) + across * math.cos(ang)
        a = cv.polyline_alpha(
            np.stack([x, y], 1), rng.uniform(1.0, 2.5) * s / 128)
        col = _colour(rng, family())
        img = img * (1 - a[..., None]) + col * a[..., None]
    return img


def _object_polygons(name: str, rng: np.random.Generator,
                     size: int) -> List[Tuple[np.ndarray, int]]:
    """Polygons of one randomly placed/scaled/rotated object, pixel units."""
    rot = rng.uniform(0, 2 * np.pi)
    # centres near the border: large objects get truncated
    cx, cy = rng.uniform(0.05, 0.95, 2) * size
    if name == 'bar':
        length = rng.uniform(0.3, 0.9) * size
        width = rng.uniform(1.5, 3.5) * size / 128
        polys = [(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float), 1)]
        sx, sy = length / 2, width / 2
    else:
        polys = _shape_polygons(name, rng)
        lo_r, hi_r = math.log(_RADIUS[0]), math.log(_RADIUS[1])
        radius = math.exp(rng.uniform(lo_r, hi_r)) * size
        lo, hi = _ASPECT[name]
        sx, sy = radius, radius * rng.uniform(lo, hi)
    c, s_ = math.cos(rot), math.sin(rot)
    out = []
    for pts, val in polys:
        x, y = pts[:, 0] * sx, pts[:, 1] * sy
        out.append((np.stack([cx + c * x - s_ * y, cy + s_ * x + c * y], 1),
                    val))
    return out


def render_sample(rng: np.random.Generator, img_size: int = 128,
                  num_classes: Optional[int] = None,
                  ignore_border: bool = True,
                  border_width: Optional[int] = None
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image and its label map.

    Returns:
        tuple: ``(image, label)``: uint8 RGB ``(H, W, 3)`` and uint8
        ``(H, W)`` with values in ``[0, num_classes)`` or 255 (void band).
    """
    k = _check_num_classes(num_classes)
    if border_width is None:
        border_width = max(1, int(round(img_size / 128)))
    cv = _Canvas(img_size)
    names = SYNTHETIC_CLASSES[1:k]
    weights = np.asarray(_CLASS_WEIGHTS[:k - 1], float)
    weights /= weights.sum()

    img = _background(rng, cv)
    label = np.zeros((img_size, img_size), np.uint8)
    depth = np.full((img_size, img_size), -1, np.int32)
    num_obj = 1 + int(rng.binomial(5, 0.4))
    for z in range(num_obj):
        cls = int(rng.choice(len(names), p=weights)) + 1
        alpha = cv.alpha(_object_polygons(names[cls - 1], rng, img_size))
        if rng.random() < 0.25:  # slightly soft edges
            alpha = cv2.GaussianBlur(alpha, (3, 3), 0.6)
        tex = _texture(rng, cv, 'object')
        if rng.random() < 0.3:  # shading across the object
            g = _smooth_field(rng, img_size, 3)
            tex = np.clip(tex * (0.7 + 0.6 * g), 0, 1)
        img = img * (1 - alpha[..., None]) + tex * alpha[..., None]
        fg = alpha >= 0.5
        label[fg] = cls
        depth[fg] = z

    if ignore_border and border_width > 0:
        # Void band just outside each object's visible outline, on the side
        # of whatever lies behind it (background or an occluded object).
        kernel = np.ones((3, 3), np.uint8)
        band = np.zeros((img_size, img_size), bool)
        for z in range(num_obj):
            vis = (depth == z).astype(np.uint8)
            if not vis.any():
                continue
            dil = cv2.dilate(vis, kernel, iterations=border_width) > 0
            band |= dil & (depth < z)
        label[band] = 255

    # photometric nuisance: illumination gradient, sensor noise, blur
    s = img_size
    gx, gy = rng.uniform(-0.35, 0.35, 2)
    illum = 1 + (gx * (cv.xs / s - 0.5) + gy * (cv.ys / s - 0.5))
    img = img * illum[..., None] * rng.uniform(0.8, 1.15)
    img = img + rng.normal(0, rng.uniform(0.0, 0.04), img.shape)
    if rng.random() < 0.3:
        img = cv2.GaussianBlur(img.astype(np.float32), (3, 3),
                               rng.uniform(0.4, 0.9))
    img = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return img, label


# --------------------------------------------------------------------------
# Dataset writing
# --------------------------------------------------------------------------
_SPLIT_CODE = dict(train=0, val=1)


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
             border_width: int) -> dict:
    return dict(
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


def _write_dataset(out: str, request: dict) -> dict:
    size, k = request['img_size'], request['num_classes']
    for sub in ('JPEGImages', 'SegmentationClass',
                osp.join('ImageSets', 'Segmentation')):
        os.makedirs(osp.join(out, sub), exist_ok=True)
    stats = {}
    for split in ('train', 'val'):
        n = request[f'num_{split}']
        counts = np.zeros(256, np.int64)
        ids = []
        for idx in range(n):
            sid = _sample_id(split, idx)
            rng = np.random.default_rng(
                [request['seed'], _SPLIT_CODE[split], idx])
            img, label = render_sample(
                rng, size, k, request['ignore_border'],
                request['border_width'] or None)
            Image.fromarray(img).save(
                osp.join(out, 'JPEGImages', sid + '.jpg'), format='JPEG',
                quality=JPEG_QUALITY, subsampling=0, optimize=False)
            _save_label(label, osp.join(out, 'SegmentationClass',
                                        sid + '.png'))
            counts += np.bincount(label.ravel(), minlength=256)
            ids.append(sid)
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
                           verbose: bool = False) -> str:
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
    if border_width is None:
        border_width = max(1, int(round(img_size / 128)))
    request = _request(num_train, num_val, img_size, seed, k, ignore_border,
                       border_width)
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
        _write_dataset(tmp_dir, request)
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


# --------------------------------------------------------------------------
# mmseg dataset
# --------------------------------------------------------------------------
from mmseg.datasets import PascalVOCDataset  # noqa: E402

from mmkd.registry import DATASETS  # noqa: E402


@DATASETS.register_module()
class SyntheticVOCDataset(PascalVOCDataset):
    """``PascalVOCDataset`` with the synthetic classes as its ``METAINFO``.

    mmseg's ``PascalVOCDataset`` refuses ``metainfo`` with classes that are
    not VOC class names, so configs use this class (``type=
    'mmkd.SyntheticVOCDataset'``, or ``'SyntheticVOCDataset'`` under
    ``default_scope='mmkd'``). Labels load unchanged (no label map). For a
    dataset generated with fewer classes pass
    ``metainfo=synthetic_metainfo(num_classes)``: that is a prefix of
    ``METAINFO['classes']``, so mmseg's label map is the identity on the
    present labels.
    """
    METAINFO = dict(
        classes=SYNTHETIC_CLASSES,
        palette=[list(p) for p in SYNTHETIC_PALETTE])
