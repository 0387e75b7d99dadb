"""The mmseg dataset class of mmkd's synthetic VOC-format data."""
from mmseg.datasets import PascalVOCDataset

from mmkd.registry import DATASETS

from .synthetic_classes import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE

__all__ = ['SyntheticVOCDataset']


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
