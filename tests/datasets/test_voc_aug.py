"""Tests of the VOC + SBD -> SegmentationClassAug converter."""
import os
import os.path as osp
import shutil

import numpy as np
import pytest
import scipy.sparse
from PIL import Image
from scipy.io import loadmat, savemat
from tool_helpers import load_tool

from mmkd.datasets.synthetic_voc import voc_palette
from mmkd.datasets.voc_aug import (AUG_LEN, TRAINAUG_LEN, VOCAugCountWarning,
                                   build_aug_lists, convert_voc_aug,
                                   load_sbd_mat)


VOC_TRAIN = ['2007_000001', '2007_000002', '2007_000003']
VOC_VAL = ['2007_000010', '2007_000011']
# SBD overlaps VOC both ways (as the real one does) and repeats an id
SBD_TRAIN = ['2007_000001', '2008_000100', '2008_000101', '2007_000010']
SBD_VAL = ['2008_000102', '2007_000002', '2008_000101']
H, W = 12, 16


def _mask(rng, void=False):
    m = rng.integers(0, 21, (H, W)).astype(np.uint8)
    if void:
        m[0, :] = 255
    return m


def _save_sbd_mat(path, seg):
    # SBD's GTcls is a 1x1 MATLAB struct with these fields; Boundaries is a
    # 20x1 cell of sparse matrices, CategoriesPresent a column vector.
    bounds = np.empty((20, 1), dtype=object)
    for i in range(20):
        bounds[i, 0] = scipy.sparse.csc_matrix((H, W), dtype=np.uint8)
    cats = np.unique(seg[(seg > 0) & (seg < 255)]).astype(np.uint8)[:, None]
    savemat(path, {'GTcls': {'Boundaries': bounds, 'Segmentation': seg,
                             'CategoriesPresent': cats}})


def make_tree(tmp_path, seed=0):
    rng = np.random.default_rng(seed)
    devkit = tmp_path / 'VOCdevkit'
    voc = devkit / 'VOC2012'
    sets = voc / 'ImageSets' / 'Segmentation'
    for d in (voc / 'JPEGImages', voc / 'SegmentationClass', sets):
        d.mkdir(parents=True)
    all_ids = sorted(set(VOC_TRAIN + VOC_VAL + SBD_TRAIN + SBD_VAL))
    for i in all_ids:
        Image.fromarray(rng.integers(0, 255, (H, W, 3), dtype=np.uint8)).save(
            voc / 'JPEGImages' / f'{i}.jpg')
    voc_masks = {}
    flat = [v for rgb in voc_palette() for v in rgb]
    for i in VOC_TRAIN + VOC_VAL:
        m = _mask(rng, void=True)
        png = Image.frombytes('P', (W, H), m.tobytes())
        png.putpalette(flat)
        png.save(voc / 'SegmentationClass' / f'{i}.png')
        voc_masks[i] = m
    (sets / 'train.txt').write_text(''.join(i + '\n' for i in VOC_TRAIN))
    (sets / 'val.txt').write_text(''.join(i + '\n' for i in VOC_VAL))

    sbd = tmp_path / 'benchmark_RELEASE'
    cls = sbd / 'dataset' / 'cls'
    cls.mkdir(parents=True)
    sbd_masks = {}
    for i in sorted(set(SBD_TRAIN + SBD_VAL)):
        m = _mask(rng)
        _save_sbd_mat(str(cls / f'{i}.mat'), m)
        sbd_masks[i] = m
    (sbd / 'dataset' / 'train.txt').write_text(
        ''.join(i + '\n' for i in SBD_TRAIN))
    (sbd / 'dataset' / 'val.txt').write_text(
        ''.join(i + '\n' for i in SBD_VAL))
    return str(devkit), str(sbd), voc_masks, sbd_masks


EXPECTED_TRAINAUG = sorted(
    ['2007_000001', '2007_000002', '2007_000003', '2008_000100',
     '2008_000101', '2008_000102'])
EXPECTED_AUG = ['2008_000100', '2008_000101', '2008_000102']


def _read(path):
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip()]


def test_fake_mat_reads_like_sbd(tmp_path):
    seg = np.arange(H * W, dtype=np.uint8).reshape(H, W) % 21
    path = str(tmp_path / 'x.mat')
    _save_sbd_mat(path, seg)
    data = loadmat(path)
    # the access path used for real SBD files
    got = data['GTcls'][0]['Segmentation'][0]
    assert got.dtype == np.uint8 and np.array_equal(got, seg)
    assert data['GTcls'].shape == (1, 1)
    assert set(data['GTcls'].dtype.names) == {
        'Boundaries', 'Segmentation', 'CategoriesPresent'}
    assert np.array_equal(load_sbd_mat(path), seg)


def test_build_aug_lists():
    trainaug, aug = build_aug_lists(VOC_TRAIN, VOC_VAL, SBD_TRAIN, SBD_VAL)
    assert trainaug == EXPECTED_TRAINAUG
    assert aug == EXPECTED_AUG
    assert AUG_LEN == TRAINAUG_LEN - 1464 == 9118


@pytest.mark.parametrize('nproc', [1, 2])
def test_convert(tmp_path, nproc):
    devkit, sbd, voc_masks, sbd_masks = make_tree(tmp_path)
    with pytest.warns(VOCAugCountWarning, match='10582'):
        summary = convert_voc_aug(devkit, sbd, nproc=nproc, verbose=False)
    voc = osp.join(devkit, 'VOC2012')
    out = osp.join(voc, 'SegmentationClassAug')
    assert summary['out_dir'] == out
    assert summary['num_trainaug'] == len(EXPECTED_TRAINAUG)
    assert summary['num_aug'] == len(EXPECTED_AUG)
    assert summary['num_sbd_masks'] == len(sbd_masks)
    assert summary['num_voc_masks'] == len(voc_masks)

    sets = osp.join(voc, 'ImageSets', 'Segmentation')
    assert _read(osp.join(sets, 'trainaug.txt')) == EXPECTED_TRAINAUG
    assert _read(osp.join(sets, 'aug.txt')) == EXPECTED_AUG
    # VOC's own lists are untouched
    assert _read(osp.join(sets, 'train.txt')) == VOC_TRAIN
    assert _read(osp.join(sets, 'val.txt')) == VOC_VAL

    written = sorted(f for f in os.listdir(out))
    assert written == sorted(
        f'{i}.png' for i in set(sbd_masks) | set(voc_masks))
    for i in written:
        sid = i[:-4]
        im = Image.open(osp.join(out, i))
        assert im.mode == 'L'
        arr = np.array(im)
        # VOC masks (with 255 void) win over SBD's for VOC train/val ids
        want = voc_masks[sid] if sid in voc_masks else sbd_masks[sid]
        assert np.array_equal(arr, want), sid
    # every id of trainaug/aug has an image and an aug mask
    for sid in EXPECTED_TRAINAUG:
        assert osp.isfile(osp.join(out, sid + '.png'))
        assert osp.isfile(osp.join(voc, 'JPEGImages', sid + '.jpg'))


def test_convert_out_dir_and_no_voc_masks(tmp_path):
    devkit, sbd, voc_masks, sbd_masks = make_tree(tmp_path)
    out = str(tmp_path / 'aug_out')
    with pytest.warns(VOCAugCountWarning):
        convert_voc_aug(osp.join(devkit, 'VOC2012'),
                        osp.join(sbd, 'dataset'), out_dir=out,
                        copy_voc_masks=False, verbose=False)
    assert sorted(os.listdir(out)) == sorted(f'{i}.png' for i in sbd_masks)
    for sid, m in sbd_masks.items():
        assert np.array_equal(np.array(Image.open(osp.join(out,
                                                           sid + '.png'))), m)
    assert not osp.exists(
        osp.join(devkit, 'VOC2012', 'SegmentationClassAug'))


def test_strict_and_missing_mat(tmp_path):
    devkit, sbd, _, _ = make_tree(tmp_path)
    with pytest.raises(RuntimeError, match='trainaug.txt has 6 ids'):
        convert_voc_aug(devkit, sbd, strict=True, verbose=False)
    os.remove(osp.join(sbd, 'dataset', 'cls', '2008_000100.mat'))
    with pytest.warns(VOCAugCountWarning) as rec:
        summary = convert_voc_aug(devkit, sbd, verbose=False)
    msg = str(rec[0].message)
    assert 'have no' in msg and '2008_000100' in msg
    assert any('2008_000100' in p for p in summary['problems'])


def test_missing_folders(tmp_path):
    devkit, sbd, _, _ = make_tree(tmp_path)
    with pytest.raises(FileNotFoundError) as e:
        convert_voc_aug(str(tmp_path / 'nope'), sbd, verbose=False)
    assert osp.join(str(tmp_path / 'nope'), 'VOC2012') in str(e.value)
    assert 'VOCtrainval_11-May-2012.tar' in str(e.value)
    with pytest.raises(FileNotFoundError) as e:
        convert_voc_aug(devkit, str(tmp_path / 'nosbd'), verbose=False)
    assert osp.join(str(tmp_path / 'nosbd'), 'dataset') in str(e.value)
    assert 'benchmark.tgz' in str(e.value)
    shutil.rmtree(osp.join(sbd, 'dataset', 'cls'))
    with pytest.raises(FileNotFoundError, match='cls'):
        convert_voc_aug(devkit, sbd, verbose=False)
    os.remove(osp.join(devkit, 'VOC2012', 'ImageSets', 'Segmentation',
                       'val.txt'))
    with pytest.raises(FileNotFoundError, match='val.txt'):
        convert_voc_aug(devkit, sbd, verbose=False)


def test_output_loads_with_mmseg_voc12_aug_config(tmp_path):
    """Load the output like mmseg's configs/_base_/datasets/
    pascal_voc12_aug.py: train.txt on SegmentationClass + aug.txt on
    SegmentationClassAug, concatenated; and trainaug.txt on
    SegmentationClassAug."""
    from mmengine.dataset import ConcatDataset
    from mmseg.datasets import PascalVOCDataset
    devkit, sbd, voc_masks, sbd_masks = make_tree(tmp_path)
    with pytest.warns(VOCAugCountWarning):
        convert_voc_aug(devkit, sbd, verbose=False)
    data_root = osp.join(devkit, 'VOC2012')
    pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='PackSegInputs')]

    def voc(ann, seg):
        return PascalVOCDataset(
            data_root=data_root,
            data_prefix=dict(img_path='JPEGImages', seg_map_path=seg),
            ann_file=f'ImageSets/Segmentation/{ann}.txt',
            pipeline=pipeline)

    ds = ConcatDataset([voc('train', 'SegmentationClass'),
                        voc('aug', 'SegmentationClassAug')])
    assert len(ds) == len(VOC_TRAIN) + len(EXPECTED_AUG)
    ids = VOC_TRAIN + EXPECTED_AUG
    for k in range(len(ds)):
        sample = ds[k]['data_samples']
        sid = ids[k]
        assert osp.basename(sample.img_path) == sid + '.jpg'
        want = voc_masks[sid] if sid in voc_masks else sbd_masks[sid]
        assert np.array_equal(sample.gt_sem_seg.data.numpy()[0], want)

    for imdecode_backend in ('pillow', 'cv2'):
        ds = PascalVOCDataset(
            data_root=data_root,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClassAug'),
            ann_file='ImageSets/Segmentation/trainaug.txt',
            pipeline=[dict(type='LoadImageFromFile'),
                      dict(type='LoadAnnotations',
                           imdecode_backend=imdecode_backend),
                      dict(type='PackSegInputs')])
        assert len(ds) == len(EXPECTED_TRAINAUG)
        for k, sid in enumerate(EXPECTED_TRAINAUG):
            gt = ds[k]['data_samples'].gt_sem_seg.data.numpy()[0]
            want = voc_masks[sid] if sid in voc_masks else sbd_masks[sid]
            assert np.array_equal(gt, want), (imdecode_backend, sid)


def test_cli(tmp_path, capsys):
    mod = load_tool('convert_voc_aug')
    devkit, sbd, _, _ = make_tree(tmp_path)
    with pytest.warns(VOCAugCountWarning):
        mod.main([devkit, sbd, '--nproc', '1'])
    assert 'trainaug.txt: 6 ids' in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        mod.main([devkit, sbd, '--strict'])
    assert 'strict' in str(e.value.code)
    with pytest.raises(SystemExit) as e:
        mod.main([str(tmp_path / 'missing'), sbd])
    assert 'VOCtrainval_11-May-2012.tar' in str(e.value.code)
