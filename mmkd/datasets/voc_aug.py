"""Build Pascal VOC 2012 "aug" annotations from VOC + SBD.

Inputs (downloaded by the user):

* ``VOCdevkit/VOC2012`` from ``VOCtrainval_11-May-2012.tar``
  (``JPEGImages/``, ``SegmentationClass/``,
  ``ImageSets/Segmentation/{train,val}.txt``);
* SBD (Hariharan et al., "Semantic Boundaries Dataset", ``benchmark.tgz``)
  unpacked as ``benchmark_RELEASE/dataset/{cls/*.mat,train.txt,val.txt}``.

Outputs (in ``VOC2012``):

* ``SegmentationClassAug/<id>.png`` for every SBD ``cls/<id>.mat``
  (``GTcls.Segmentation``), saved as 8-bit **grayscale (mode 'L')** class
  indices (0 = background, 1..20 classes, 255 = void), like mmseg's own
  converter and the widely shared ``SegmentationClassAug``. mmseg's
  ``LoadAnnotations`` reads mode 'L' as indices with either decode backend
  (a mode 'P' PNG would be expanded to colours by the ``cv2`` backend).
* The masks of VOC's own ``train`` and ``val`` images are then written over
  them from ``SegmentationClass`` (as indices, mode 'L'): VOC's annotations
  are the official ones (with their void borders), and this makes
  ``trainaug.txt`` and ``val.txt`` fully usable with
  ``seg_map_path='SegmentationClassAug'``.
* ``ImageSets/Segmentation/trainaug.txt``: VOC train + SBD train + SBD val
  minus VOC val (10582 ids for the real data), and ``aug.txt``: SBD train +
  SBD val minus VOC train and VOC val (9118 = 10582 - 1464). Both sorted and
  deduplicated.

mmseg's ``configs/_base_/datasets/pascal_voc12_aug.py`` concatenates
``train.txt`` read from ``SegmentationClass`` with ``aug.txt`` read from
``SegmentationClassAug``; both work with this output (and so does a single
``trainaug.txt`` dataset on ``SegmentationClassAug``).
"""
import io
import os
import os.path as osp
import sys
import warnings
from functools import partial
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.utils import track_parallel_progress, track_progress
from PIL import Image
from scipy.io import loadmat

from mmkd.utils.atomic_io import atomic_open, atomic_write_text

__all__ = [
    'TRAINAUG_LEN', 'AUG_LEN', 'VOC_TRAIN_LEN', 'VOC_VAL_LEN',
    'SBD_TRAIN_LEN', 'SBD_VAL_LEN', 'VOCAugCountWarning', 'load_sbd_mat',
    'build_aug_lists', 'convert_voc_aug'
]

# Counts of the real data.
VOC_TRAIN_LEN = 1464
VOC_VAL_LEN = 1449
SBD_TRAIN_LEN = 8498
SBD_VAL_LEN = 2857
TRAINAUG_LEN = 10582
AUG_LEN = TRAINAUG_LEN - VOC_TRAIN_LEN  # 9118

VOC_URL = ('http://host.robots.ox.ac.uk/pascal/VOC/voc2012/'
           'VOCtrainval_11-May-2012.tar')
SBD_URL = ('http://www.eecs.berkeley.edu/Research/Projects/CS/vision/'
           'grouping/semantic_contours/benchmark.tgz')


class VOCAugCountWarning(UserWarning):
    """The converted lists do not have the sizes of the real VOC aug."""


def _read_list(path: str) -> List[str]:
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip()]


def _write_list(path: str, ids: Sequence[str]) -> None:
    atomic_write_text(''.join(i + '\n' for i in ids), path)


def _save_index_png(arr: np.ndarray, path: str) -> None:
    # never leave a half-written mask behind
    with atomic_open(path, 'wb') as f:
        Image.fromarray(np.ascontiguousarray(arr, np.uint8)).save(
            f, format='PNG')


def load_sbd_mat(path: str) -> np.ndarray:
    """Class-index mask (uint8, H x W) of an SBD ``cls/<id>.mat`` file."""
    data = loadmat(path)
    if 'GTcls' not in data:
        raise ValueError(f'{path}: no GTcls struct (not an SBD cls/ file?)')
    seg = data['GTcls'][0]['Segmentation'][0]
    seg = np.asarray(seg)
    if seg.ndim != 2:
        raise ValueError(f'{path}: GTcls.Segmentation has shape {seg.shape}')
    if seg.size and (seg.min() < 0 or seg.max() > 255):
        raise ValueError(f'{path}: label values outside 0..255')
    return seg.astype(np.uint8)


def _convert_mat(img_id: str, in_dir: str, out_dir: str) -> None:
    mask = load_sbd_mat(osp.join(in_dir, img_id + '.mat'))
    _save_index_png(mask, osp.join(out_dir, img_id + '.png'))


def _copy_voc_mask(img_id: str, in_dir: str, out_dir: str) -> None:
    # VOC's PNGs are mode 'P': np.asarray gives the palette indices.
    with Image.open(osp.join(in_dir, img_id + '.png')) as im:
        if im.mode not in ('P', 'L'):
            raise ValueError(f'{img_id}.png: expected a palette/index PNG, '
                             f'got mode {im.mode}')
        mask = np.asarray(im)
    _save_index_png(mask, osp.join(out_dir, img_id + '.png'))


def build_aug_lists(voc_train: Sequence[str], voc_val: Sequence[str],
                    sbd_train: Sequence[str],
                    sbd_val: Sequence[str]) -> Tuple[List[str], List[str]]:
    """``(trainaug, aug)`` id lists, sorted and deduplicated.

    ``trainaug`` = VOC train + SBD train + SBD val - VOC val;
    ``aug`` = SBD train + SBD val - VOC train - VOC val.
    """
    sbd = set(sbd_train) | set(sbd_val)
    trainaug = sorted((set(voc_train) | sbd) - set(voc_val))
    aug = sorted(sbd - set(voc_train) - set(voc_val))
    return trainaug, aug


def _resolve_voc_dir(devkit_path: str) -> str:
    """Accept ``VOCdevkit`` (with ``VOC2012`` inside) or ``VOC2012``."""
    cand = osp.join(devkit_path, 'VOC2012')
    if osp.isdir(cand):
        return cand
    if osp.isdir(osp.join(devkit_path, 'JPEGImages')):
        return devkit_path
    return cand


def _resolve_sbd_dir(aug_path: str) -> str:
    """Accept ``benchmark_RELEASE`` (with ``dataset`` inside) or
    ``benchmark_RELEASE/dataset``."""
    cand = osp.join(aug_path, 'dataset')
    if osp.isdir(cand):
        return cand
    if osp.isdir(osp.join(aug_path, 'cls')):
        return aug_path
    return cand


def _require(path: str, what: str, kind: str = 'dir') -> None:
    ok = osp.isdir(path) if kind == 'dir' else osp.isfile(path)
    if not ok:
        raise FileNotFoundError(f'{what}: expected {kind} {path} not found. '
                                + _HINTS[what.split()[0]])


_HINTS = dict(
    VOC=('Download VOCtrainval_11-May-2012.tar (Pascal VOC 2012, '
         f'{VOC_URL}) and extract it so that VOCdevkit/VOC2012/'
         '{JPEGImages,SegmentationClass,ImageSets/Segmentation} exist; pass '
         'the VOCdevkit dir as devkit_path.'),
    SBD=('Download SBD benchmark.tgz (Semantic Boundaries Dataset, '
         f'{SBD_URL}) and extract it so that benchmark_RELEASE/dataset/'
         '{cls/*.mat,train.txt,val.txt} exist; pass the benchmark_RELEASE '
         'dir as aug_path.'))


def _run(func, tasks: List[str], nproc: int, desc: str,
         verbose: bool) -> None:
    """Apply ``func`` to ``tasks`` with mmengine's progress bars."""
    if not tasks:
        return
    out = sys.stdout if verbose else io.StringIO()
    if verbose:
        print(desc)
    if nproc > 1:
        chunksize = max(1, min(32, len(tasks) // (nproc * 8)))
        track_parallel_progress(
            func, tasks, nproc=nproc, chunksize=chunksize, file=out)
    else:
        track_progress(func, tasks, file=out)


def convert_voc_aug(devkit_path: str,
                    aug_path: str,
                    out_dir: Optional[str] = None,
                    nproc: int = 1,
                    strict: bool = False,
                    copy_voc_masks: bool = True,
                    verbose: bool = True) -> Dict[str, object]:
    """Convert SBD to ``SegmentationClassAug`` and write the aug lists.

    Args:
        devkit_path (str): ``VOCdevkit`` (or its ``VOC2012``) directory.
        aug_path (str): SBD ``benchmark_RELEASE`` (or its ``dataset``) dir.
        out_dir (str, optional): Mask output dir. Defaults to
            ``<VOC2012>/SegmentationClassAug``. The lists always go to
            ``<VOC2012>/ImageSets/Segmentation``.
        nproc (int): Worker processes. Defaults to 1.
        strict (bool): Raise ``RuntimeError`` instead of warning when the
            counts differ from the real data's (10582 trainaug, 9118 aug) or
            when a listed SBD id has no ``.mat`` file.
        copy_voc_masks (bool): Write VOC train/val masks from
            ``SegmentationClass`` over the SBD ones. Defaults to True.
        verbose (bool): Print progress and a summary.

    Returns:
        dict: ``out_dir``, ``trainaug_file``, ``aug_file``, counts
        (``num_sbd_masks``, ``num_voc_masks``, ``num_trainaug``,
        ``num_aug``) and ``problems`` (messages that were warned about).
    """
    voc_dir = _resolve_voc_dir(devkit_path)
    sbd_dir = _resolve_sbd_dir(aug_path)
    sets_dir = osp.join(voc_dir, 'ImageSets', 'Segmentation')
    _require(voc_dir, 'VOC 2012 dir')
    _require(osp.join(voc_dir, 'JPEGImages'), 'VOC JPEGImages')
    _require(sets_dir, 'VOC ImageSets/Segmentation')
    for split in ('train', 'val'):
        _require(osp.join(sets_dir, f'{split}.txt'), f'VOC {split} list',
                 'file')
    if copy_voc_masks:
        _require(osp.join(voc_dir, 'SegmentationClass'),
                 'VOC SegmentationClass')
    _require(sbd_dir, 'SBD dataset dir')
    cls_dir = osp.join(sbd_dir, 'cls')
    _require(cls_dir, 'SBD cls dir')
    for split in ('train', 'val'):
        _require(osp.join(sbd_dir, f'{split}.txt'), f'SBD {split} list',
                 'file')

    voc_train = _read_list(osp.join(sets_dir, 'train.txt'))
    voc_val = _read_list(osp.join(sets_dir, 'val.txt'))
    sbd_train = _read_list(osp.join(sbd_dir, 'train.txt'))
    sbd_val = _read_list(osp.join(sbd_dir, 'val.txt'))
    if out_dir is None:
        out_dir = osp.join(voc_dir, 'SegmentationClassAug')
    os.makedirs(out_dir, exist_ok=True)

    problems: List[str] = []
    mat_ids = sorted(f[:-4] for f in os.listdir(cls_dir)
                     if f.endswith('.mat'))
    missing_mat = sorted((set(sbd_train) | set(sbd_val)) - set(mat_ids))
    if missing_mat:
        problems.append(f'{len(missing_mat)} SBD ids listed in train/val '
                        f'have no {cls_dir}/<id>.mat (e.g. {missing_mat[0]})')

    _run(partial(_convert_mat, in_dir=cls_dir, out_dir=out_dir), mat_ids,
         nproc, f'converting {len(mat_ids)} SBD masks -> {out_dir}', verbose)

    voc_ids: List[str] = []
    if copy_voc_masks:
        seg_dir = osp.join(voc_dir, 'SegmentationClass')
        wanted = sorted(set(voc_train) | set(voc_val))
        voc_ids = [i for i in wanted
                   if osp.isfile(osp.join(seg_dir, i + '.png'))]
        if len(voc_ids) != len(wanted):
            problems.append(f'{len(wanted) - len(voc_ids)} VOC train/val ids'
                            f' have no mask in {seg_dir}')
        _run(partial(_copy_voc_mask, in_dir=seg_dir, out_dir=out_dir),
             voc_ids, nproc,
             f'copying {len(voc_ids)} VOC train/val masks -> {out_dir}',
             verbose)

    trainaug, aug = build_aug_lists(voc_train, voc_val, sbd_train, sbd_val)
    trainaug_file = osp.join(sets_dir, 'trainaug.txt')
    aug_file = osp.join(sets_dir, 'aug.txt')
    _write_list(trainaug_file, trainaug)
    _write_list(aug_file, aug)

    if len(trainaug) != TRAINAUG_LEN:
        problems.append(f'trainaug.txt has {len(trainaug)} ids, the real VOC'
                        f' aug set has {TRAINAUG_LEN}')
    if len(aug) != AUG_LEN:
        problems.append(f'aug.txt has {len(aug)} ids, the real VOC aug set '
                        f'has {AUG_LEN}')
    have = set(mat_ids) | set(voc_ids)
    no_mask = [i for i in trainaug if i not in have]
    if no_mask:
        problems.append(f'{len(no_mask)} trainaug ids have no mask in '
                        f'{out_dir} (e.g. {no_mask[0]})')
    if problems:
        msg = ('VOC aug conversion differs from the expected real data '
               '(VOC2012 + SBD): ' + '; '.join(problems))
        if strict:
            raise RuntimeError(msg + ' (strict mode)')
        warnings.warn(msg, VOCAugCountWarning, stacklevel=2)

    summary: Dict[str, object] = dict(
        out_dir=out_dir,
        trainaug_file=trainaug_file,
        aug_file=aug_file,
        num_sbd_masks=len(mat_ids),
        num_voc_masks=len(voc_ids),
        num_trainaug=len(trainaug),
        num_aug=len(aug),
        problems=problems)
    if verbose:
        print(f'\nwrote {len(mat_ids)} SBD + {len(voc_ids)} VOC masks to '
              f'{out_dir}\n{trainaug_file}: {len(trainaug)} ids\n'
              f'{aug_file}: {len(aug)} ids')
    return summary
