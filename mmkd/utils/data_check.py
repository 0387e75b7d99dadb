"""Check that a config's datasets exist before a runner is built."""
import os.path as osp
from typing import Iterator, List, Tuple

from mmengine.config import Config, ConfigDict

VOC_HELP = """\
Pascal VOC 2012 (+ SBD for the 'aug' split) cannot be downloaded by mmkd.
Prepare it once:
  mkdir -p data/VOCdevkit && cd data
  # VOC 2012 train/val:
  wget http://host.robots.ox.ac.uk/pascal/VOC/voc2012/VOCtrainval_11-May-2012.tar
  tar -xf VOCtrainval_11-May-2012.tar          # -> data/VOCdevkit/VOC2012
  # SBD (for SegmentationClassAug / trainaug):
  wget http://www.eecs.berkeley.edu/Research/Projects/CS/vision/grouping/semantic_contours/benchmark.tgz
  tar -xf benchmark.tgz                        # -> data/benchmark_RELEASE
  cd .. && python tools/convert_voc_aug.py data/VOCdevkit data/benchmark_RELEASE
or point the config at an existing copy:
  --cfg-options train_dataloader.dataset.data_root=/path/to/VOC2012 ..."""

SYNTHETIC_HELP = """\
Generate the synthetic VOC-format dataset first:
  python tools/generate_synthetic_voc.py --out data/synthetic_voc"""


class DatasetNotFoundError(FileNotFoundError):
    """A dataset the config needs is not on disk."""


def _dataset_cfgs(cfg) -> Iterator[dict]:
    """Yield leaf dataset configs, looking through wrapper datasets."""
    if isinstance(cfg, (list, tuple)):
        for sub in cfg:
            yield from _dataset_cfgs(sub)
        return
    if not isinstance(cfg, dict):
        return
    if 'datasets' in cfg:  # ConcatDataset
        yield from _dataset_cfgs(cfg['datasets'])
    elif 'dataset' in cfg:  # RepeatDataset, ClassBalancedDataset, ...
        yield from _dataset_cfgs(cfg['dataset'])
    else:
        yield cfg


def _required_paths(dataset: dict) -> List[Tuple[str, str]]:
    """(description, path) pairs a mmseg dataset config reads from."""
    root = dataset.get('data_root') or ''
    paths = []
    if root:
        paths.append(('data_root', root))
    prefix = dataset.get('data_prefix') or {}
    if isinstance(prefix, str):  # mmpretrain's data_prefix='train'
        prefix = dict(img_path=prefix)
    for key, value in prefix.items():
        if value:
            paths.append((f'data_prefix.{key}', osp.join(root, value)))
    ann_file = dataset.get('ann_file')
    if ann_file:
        paths.append(('ann_file', osp.join(root, ann_file)))
    return paths


def check_datasets(cfg: Config,
                   loaders=('train_dataloader', 'val_dataloader')) -> None:
    """Raise :class:`DatasetNotFoundError` if a dataset path is missing.

    Args:
        cfg (Config): The full config.
        loaders (Sequence[str]): Dataloader fields of ``cfg`` to check.

    Raises:
        DatasetNotFoundError: Names the first missing path, the dataset
            type and config field, and how to prepare the data.
    """
    for loader in loaders:
        loader_cfg = cfg.get(loader)
        if not isinstance(loader_cfg, (dict, ConfigDict)):
            continue
        for dataset in _dataset_cfgs(loader_cfg.get('dataset')):
            for what, path in _required_paths(dataset):
                if osp.exists(path):
                    continue
                dtype = dataset.get('type', 'dataset')
                if 'synthetic' in path.lower():
                    help_text = SYNTHETIC_HELP
                elif 'voc' in f'{dtype} {path}'.lower():
                    help_text = VOC_HELP
                else:
                    help_text = ''
                raise DatasetNotFoundError(
                    f'{loader}: {dtype} expects {what} at {osp.abspath(path)}'
                    f' but it does not exist.\n{help_text}'.rstrip())
