"""Check that a classification config's datasets are on disk.

mmpretrain's ``ImageNet`` and ``CustomDataset`` read one of two layouts
under ``data_root``:

* folders: ``<data_root>/<split>/<class>/*.JPEG`` (for ImageNet the class
  folders are the 1000 WordNet ids, ``n01440764`` ...; class indices are
  the folders in sorted order);
* annotation files: ``<data_root>/meta/<split>.txt`` with one
  ``<path relative to data_root/split> <label>`` line per image.

:func:`check_cls_datasets` finds mmpretrain datasets in a config and raises
:class:`~mmkd.utils.data_check.DatasetNotFoundError` (the error
``tools/train.py`` already reports) naming the missing path, both layouts
and how to get ImageNet, before a runner is built. Datasets of other
libraries are left to :func:`mmkd.utils.data_check.check_datasets`.
"""
import os
import os.path as osp
from typing import Iterator, Optional, Sequence, Tuple

from mmkd.utils.data_check import DatasetNotFoundError

__all__ = [
    'IMAGENET_HELP', 'SYNTHETIC_CLS_HELP', 'check_cls_datasets',
    'cls_dataset_paths', 'is_cls_dataset'
]

IMAGENET_HELP = """\
ImageNet (ILSVRC 2012) cannot be downloaded by mmkd: its licence needs an
account at https://image-net.org (Download > ILSVRC 2012: the train and val
image archives), or take the Kaggle copy
(kaggle competitions download -c imagenet-object-localization-challenge).
mmkd reads it with mmpretrain's ImageNet dataset in either layout:
  folders (as torchvision's ImageFolder):
    data/imagenet/train/n01440764/n01440764_10026.JPEG   (1000 wnid folders)
    data/imagenet/val/n01440764/ILSVRC2012_val_00000293.JPEG
    (sort the 50,000 flat val images into wnid folders, e.g. with the
    valprep.sh script linked from pytorch/examples' imagenet README)
  annotation files (faster to start: no folder scan):
    data/imagenet/train/...  and  data/imagenet/val/*.JPEG
    data/imagenet/meta/train.txt   lines: n01440764/n01440764_10026.JPEG 0
    data/imagenet/meta/val.txt     lines: ILSVRC2012_val_00000001.JPEG 65
    (label = index of the wnid in sorted order)
or point the config at an existing copy:
  --cfg-options train_dataloader.dataset.data_root=/path/to/imagenet \\
                val_dataloader.dataset.data_root=/path/to/imagenet"""

SYNTHETIC_CLS_HELP = """\
Generate the synthetic classification data (ImageFolder layout) first:
  python tools/cls_quickstart.py --data-only"""

_CLS_DATASET_TYPES = ('ImageNet', 'ImageNet21k', 'CustomDataset')
_IMG_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.ppm', '.bmp', '.pgm', '.tif')


def _leaf_datasets(cfg) -> Iterator[dict]:
    """Leaf dataset configs, looking through wrapper datasets."""
    if isinstance(cfg, (list, tuple)):
        for sub in cfg:
            yield from _leaf_datasets(sub)
        return
    if not isinstance(cfg, dict):
        return
    if 'datasets' in cfg:
        yield from _leaf_datasets(cfg['datasets'])
    elif 'dataset' in cfg:
        yield from _leaf_datasets(cfg['dataset'])
    else:
        yield cfg


def is_cls_dataset(dataset: dict) -> bool:
    """Whether a dataset config is one of mmpretrain's folder datasets.

    ``'mmpretrain.ImageNet'``, or ``'ImageNet'`` / ``'CustomDataset'`` with
    ``_scope_='mmpretrain'``.
    """
    dtype = dataset.get('type')
    if not isinstance(dtype, str):
        return False
    scope, _, name = dtype.rpartition('.')
    scope = scope or dataset.get('_scope_')
    return scope == 'mmpretrain' and name in _CLS_DATASET_TYPES


def cls_dataset_paths(dataset: dict) -> Tuple[str, Optional[str]]:
    """``(image_dir, ann_file)`` an mmpretrain folder dataset reads.

    Follows mmpretrain 1.2.0: ``ImageNet(split=s)`` reads ``<root>/s`` and,
    when it exists, ``<root>/meta/s.txt``; ``data_prefix`` (a str or
    ``dict(img_path=...)``) and ``ann_file`` are relative to ``data_root``.
    ``ann_file`` is None in the folder layout.
    """
    root = dataset.get('data_root') or ''
    prefix = dataset.get('data_prefix') or ''
    if isinstance(prefix, dict):
        prefix = prefix.get('img_path') or ''
    split = dataset.get('split') or ''
    ann_file = dataset.get('ann_file') or ''
    if split:
        prefix = prefix or split
        if not ann_file and osp.isfile(
                osp.join(root, 'meta', f'{split}.txt')):
            ann_file = osp.join('meta', f'{split}.txt')
    image_dir = osp.join(root, prefix)
    ann_path = osp.join(root, ann_file) if ann_file else None
    return image_dir, ann_path


def _first_image(folder: str, limit: int = 50) -> Optional[str]:
    """An image inside one of the first ``limit`` class folders, or None."""
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return None
    subdirs = [e.path for e in entries if e.is_dir()][:limit]
    for sub in subdirs:
        try:
            for entry in os.scandir(sub):
                if entry.name.lower().endswith(_IMG_EXTENSIONS):
                    return entry.path
        except OSError:
            continue
    return None


def _help_for(dataset: dict, path: str) -> str:
    if 'synthetic' in path.lower():
        return SYNTHETIC_CLS_HELP
    if 'imagenet' in f"{dataset.get('type')} {path}".lower():
        return IMAGENET_HELP
    return ('Expected the folder layout <data_root>/<split>/<class>/<image> '
            'or the annotation layout <data_root>/meta/<split>.txt with '
            '"<relative image path> <label>" lines.')


def check_cls_datasets(cfg,
                       loaders: Sequence[str] = ('train_dataloader',
                                                 'val_dataloader')) -> None:
    """Raise ``DatasetNotFoundError`` if an mmpretrain dataset is missing.

    Checked per dataset: ``data_root`` exists; in the annotation layout the
    annotation file and the image folder exist; in the folder layout the
    image folder holds class folders with at least one image. Only
    mmpretrain folder datasets (:func:`is_cls_dataset`) are checked; the
    check reads a few directory entries, never the whole dataset.

    Args:
        cfg (Config | dict): The full config.
        loaders (Sequence[str]): Dataloader fields of ``cfg`` to check.

    Raises:
        DatasetNotFoundError: Names the loader, the dataset type, the
            missing path, the expected layouts and how to get the data.
    """
    for loader in loaders:
        loader_cfg = cfg.get(loader) if hasattr(cfg, 'get') else None
        if not isinstance(loader_cfg, dict):
            continue
        for dataset in _leaf_datasets(loader_cfg.get('dataset')):
            if not is_cls_dataset(dataset):
                continue
            _check_one(loader, dataset)


def _check_one(loader: str, dataset: dict) -> None:
    dtype = dataset.get('type')
    root = dataset.get('data_root') or ''
    image_dir, ann_file = cls_dataset_paths(dataset)

    def fail(what: str, path: str) -> None:
        raise DatasetNotFoundError(
            f'{loader}: {dtype} expects {what} at {osp.abspath(path)} but '
            f'it does not exist.\n{_help_for(dataset, path)}')

    if root and not osp.isdir(root):
        fail('data_root', root)
    if ann_file is not None:
        if not osp.isfile(ann_file):
            fail('the annotation file', ann_file)
        if not osp.isdir(image_dir):
            fail('the image folder', image_dir)
        return
    if not osp.isdir(image_dir):
        fail('the image folder (<split>/<class>/<image>)', image_dir)
    if _first_image(image_dir) is None:
        raise DatasetNotFoundError(
            f'{loader}: {dtype} found no <class>/<image> files under '
            f'{osp.abspath(image_dir)} (folder layout: one sub-folder per '
            f'class holding {"/".join(_IMG_EXTENSIONS)} images).\n'
            f'{_help_for(dataset, image_dir)}')
