"""Datasets: a synthetic VOC-format dataset and the VOC aug converter."""
from .synthetic_voc import (GENERATOR_VERSION, SYNTHETIC_CLASSES,
                            SYNTHETIC_METAINFO, SYNTHETIC_PALETTE,
                            SyntheticVOCDataset, generate_synthetic_voc,
                            load_synthetic_meta, render_sample,
                            synthetic_metainfo, voc_palette)
from .voc_aug import (AUG_LEN, TRAINAUG_LEN, VOCAugCountWarning,
                      build_aug_lists, convert_voc_aug, load_sbd_mat)

__all__ = [
    'GENERATOR_VERSION', 'SYNTHETIC_CLASSES', 'SYNTHETIC_METAINFO',
    'SYNTHETIC_PALETTE', 'SyntheticVOCDataset', 'generate_synthetic_voc',
    'load_synthetic_meta', 'render_sample', 'synthetic_metainfo',
    'voc_palette', 'AUG_LEN', 'TRAINAUG_LEN', 'VOCAugCountWarning',
    'build_aug_lists', 'convert_voc_aug', 'load_sbd_mat'
]
