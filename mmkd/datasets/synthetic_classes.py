"""Classes and palette of mmkd's synthetic VOC-format dataset.

Object classes are shapes (see :mod:`mmkd.datasets.synthetic_render`);
labels are saved with Pascal VOC's colour map, so the label PNGs look like
VOC's.
"""
from typing import List, Optional, Tuple

__all__ = [
    'SYNTHETIC_CLASSES', 'SYNTHETIC_PALETTE', 'SYNTHETIC_METAINFO',
    'voc_palette', 'synthetic_metainfo'
]

SYNTHETIC_CLASSES: Tuple[str, ...] = ('background', 'disc', 'ring',
                                      'triangle', 'rectangle', 'cross',
                                      'star', 'crescent', 'bar', 'arrow')


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
