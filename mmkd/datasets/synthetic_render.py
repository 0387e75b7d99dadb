"""Rendering of the synthetic VOC-format dataset: shapes, textures,
backgrounds and the photometric nuisances of one image.

Everything is a deterministic function of the numpy ``Generator`` passed
to :func:`render_sample` (drawing with cv2): the same generator state gives
the same image and label. Any change to what is drawn here changes the
generated files: bump ``GENERATOR_VERSION`` in
:mod:`mmkd.datasets.synthetic_voc` then, so cached datasets are
regenerated.
"""
import math
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

from .synthetic_classes import SYNTHETIC_CLASSES, _check_num_classes

__all__ = ['render_sample']

_SUPERSAMPLE = 4

# Relative frequency of each object class *per instance* (same order as
# SYNTHETIC_CLASSES[1:]). Skewed like VOC: a few common classes, some rare
# ones; ``bar`` is also tiny in area so it is the rarest class by pixels.
_CLASS_WEIGHTS = (0.20, 0.12, 0.16, 0.18, 0.09, 0.08, 0.04, 0.08, 0.05)


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
                     size: int,
                     radius: Tuple[float, float] = _RADIUS,
                     min_bar_px: float = 0.0
                     ) -> List[Tuple[np.ndarray, int]]:
    """Polygons of one randomly placed/scaled/rotated object, pixel units.

    ``radius`` is the (min, max) object radius as a fraction of the image
    side (log-uniform); ``min_bar_px`` a floor on the width of a bar.
    """
    rot = rng.uniform(0, 2 * np.pi)
    # centres near the border: large objects get truncated
    cx, cy = rng.uniform(0.05, 0.95, 2) * size
    if name == 'bar':
        length = rng.uniform(0.3, 0.9) * size
        width = max(min_bar_px, rng.uniform(1.5, 3.5) * size / 128)
        polys = [(np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float), 1)]
        sx, sy = length / 2, width / 2
    else:
        polys = _shape_polygons(name, rng)
        lo_r, hi_r = math.log(radius[0]), math.log(radius[1])
        r = math.exp(rng.uniform(lo_r, hi_r)) * size
        lo, hi = _ASPECT[name]
        sx, sy = r, r * rng.uniform(lo, hi)
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
                  border_width: Optional[int] = None,
                  max_objects: int = 6,
                  radius: Tuple[float, float] = _RADIUS,
                  min_bar_px: float = 0.0,
                  class_weights: Sequence[float] = _CLASS_WEIGHTS
                  ) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image and its label map.

    ``max_objects`` (1 + Binomial(max_objects - 1, 0.4) objects per image),
    ``radius`` (object radius range, fraction of the side) and
    ``min_bar_px`` (floor on a bar's width) and ``class_weights`` (relative
    frequency of each object class per instance) default to generator
    version 2's
    layout; the efficacy benchmark's small images use fewer, larger objects
    (:data:`mmkd.datasets.synthetic_voc.LAYOUTS`).

    Returns:
        tuple: ``(image, label)``: uint8 RGB ``(H, W, 3)`` and uint8
        ``(H, W)`` with values in ``[0, num_classes)`` or 255 (void band).
    """
    k = _check_num_classes(num_classes)
    if border_width is None:
        border_width = max(1, int(round(img_size / 128)))
    cv = _Canvas(img_size)
    names = SYNTHETIC_CLASSES[1:k]
    weights = np.asarray(class_weights[:k - 1], float)
    weights /= weights.sum()

    img = _background(rng, cv)
    label = np.zeros((img_size, img_size), np.uint8)
    depth = np.full((img_size, img_size), -1, np.int32)
    if max_objects < 1:
        raise ValueError(f'max_objects must be >= 1, got {max_objects}')
    num_obj = 1 + int(rng.binomial(max_objects - 1, 0.4))
    for z in range(num_obj):
        cls = int(rng.choice(len(names), p=weights)) + 1
        alpha = cv.alpha(_object_polygons(names[cls - 1], rng, img_size,
                                          radius, min_bar_px))
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
