"""Datasets: a synthetic VOC-format dataset, the VOC aug converter and
loading transforms that refuse bad data."""
from .checked_loading import (BadDataError, CheckedLoadAnnotations,
                              CheckedLoadImageFromFile, check_image_bytes,
                              check_label_map)
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
    'build_aug_lists', 'convert_voc_aug', 'load_sbd_mat', 'BadDataError',
    'CheckedLoadImageFromFile', 'CheckedLoadAnnotations',
    'check_image_bytes', 'check_label_map'
]
