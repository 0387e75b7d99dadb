"""Tests of mmkd's synthetic VOC-format dataset generator."""
import hashlib
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from PIL import Image
from tool_helpers import load_tool

from mmkd.datasets.synthetic_voc import (GENERATOR_VERSION, SYNTHETIC_CLASSES,
                                         SYNTHETIC_METAINFO, SYNTHETIC_PALETTE,
                                         SyntheticVOCDataset,
                                         generate_synthetic_voc,
                                         load_synthetic_meta, render_sample,
                                         synthetic_metainfo, voc_palette)

K = len(SYNTHETIC_CLASSES)
NUM_TRAIN, NUM_VAL = 40, 12


@pytest.fixture(scope='module')
def voc_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp('synvoc')
    return generate_synthetic_voc(
        str(root), num_train=NUM_TRAIN, num_val=NUM_VAL, seed=0)


def _ids(voc_dir, split):
    with open(osp.join(voc_dir, 'ImageSets', 'Segmentation',
                       f'{split}.txt')) as f:
        return [ln.strip() for ln in f if ln.strip()]


def _label(voc_dir, sid):
    return np.array(
        Image.open(osp.join(voc_dir, 'SegmentationClass', sid + '.png')))


def _tree_digest(voc_dir):
    out = {}
    for dirpath, _, files in os.walk(voc_dir):
        for name in files:
            path = osp.join(dirpath, name)
            with open(path, 'rb') as f:
                out[osp.relpath(path, voc_dir)] = hashlib.sha256(
                    f.read()).hexdigest()
    return out


def test_classes_and_palette():
    assert SYNTHETIC_CLASSES[0] == 'background'
    assert len(SYNTHETIC_CLASSES) - 1 >= 8
    assert len(set(SYNTHETIC_CLASSES)) == K
    assert SYNTHETIC_PALETTE == voc_palette(K)
    assert voc_palette()[1] == [128, 0, 0]
    assert voc_palette()[255] == [224, 224, 192]
    meta = synthetic_metainfo()
    assert meta['classes'] == SYNTHETIC_CLASSES
    assert meta['palette'] == SYNTHETIC_PALETTE
    assert synthetic_metainfo(4)['classes'] == SYNTHETIC_CLASSES[:4]
    assert len(synthetic_metainfo(4)['palette']) == 4
    assert SYNTHETIC_METAINFO['classes'] == SYNTHETIC_CLASSES
    with pytest.raises(ValueError):
        synthetic_metainfo(K + 1)


def test_layout(voc_dir):
    assert osp.basename(voc_dir) == 'VOC2012'
    train, val = _ids(voc_dir, 'train'), _ids(voc_dir, 'val')
    assert len(train) == NUM_TRAIN and len(val) == NUM_VAL
    assert not set(train) & set(val)
    jpgs = sorted(f[:-4] for f in os.listdir(osp.join(voc_dir, 'JPEGImages')))
    pngs = sorted(
        f[:-4] for f in os.listdir(osp.join(voc_dir, 'SegmentationClass')))
    assert jpgs == pngs == sorted(train + val)
    assert not osp.exists(
        osp.join(voc_dir, 'ImageSets', 'Segmentation', 'trainaug.txt'))
    flat_palette = [v for rgb in voc_palette() for v in rgb]
    for sid in train[:5] + val[:5]:
        img = Image.open(osp.join(voc_dir, 'JPEGImages', sid + '.jpg'))
        assert img.format == 'JPEG' and img.mode == 'RGB'
        assert img.size == (128, 128)
        png = Image.open(osp.join(voc_dir, 'SegmentationClass', sid + '.png'))
        assert png.format == 'PNG' and png.mode == 'P'
        assert png.getpalette()[:768] == flat_palette
        lab = np.array(png)
        assert lab.shape == (128, 128) and lab.dtype == np.uint8
        vals = set(np.unique(lab).tolist())
        assert vals <= set(range(K)) | {255}
    meta = load_synthetic_meta(voc_dir)
    assert meta['version'] == GENERATOR_VERSION
    assert meta['seed'] == 0 and meta['img_size'] == 128
    assert meta['num_train'] == NUM_TRAIN and meta['num_val'] == NUM_VAL
    assert meta['classes'] == list(SYNTHETIC_CLASSES)
    assert meta['palette'] == SYNTHETIC_PALETTE
    assert meta['ignore_border'] is True and meta['border_width'] == 1
    # no temporary dirs left behind
    assert os.listdir(osp.dirname(voc_dir)) == ['VOC2012']


def test_determinism(voc_dir, tmp_path):
    same = generate_synthetic_voc(
        str(tmp_path / 'a'), num_train=NUM_TRAIN, num_val=NUM_VAL, seed=0)
    assert _tree_digest(same) == _tree_digest(voc_dir)
    other = generate_synthetic_voc(
        str(tmp_path / 'b'), num_train=4, num_val=2, seed=1)
    sid = 'train_000000'
    assert not np.array_equal(_label(other, sid), _label(voc_dir, sid))
    # per-image seeding: a prefix of a larger dataset is the same data
    small = generate_synthetic_voc(
        str(tmp_path / 'c'), num_train=4, num_val=2, seed=0)
    for sid in _ids(small, 'train') + _ids(small, 'val'):
        for sub, ext in (('JPEGImages', '.jpg'), ('SegmentationClass',
                                                  '.png')):
            with open(osp.join(small, sub, sid + ext), 'rb') as f1, \
                    open(osp.join(voc_dir, sub, sid + ext), 'rb') as f2:
                assert f1.read() == f2.read()


def test_workers_write_the_same_files(voc_dir, tmp_path, monkeypatch):
    """Rendered by a pool of processes (chunks of 8 samples, so several
    per split), the dataset is byte-identical to the one-process one, its
    meta.json (pixel statistics) included."""
    import mmkd.datasets.synthetic_voc as synthetic_voc
    monkeypatch.setattr(synthetic_voc, '_CHUNK', 8)
    pooled = generate_synthetic_voc(
        str(tmp_path / 'pooled'), num_train=NUM_TRAIN, num_val=NUM_VAL,
        seed=0, workers=3)
    assert _tree_digest(pooled) == _tree_digest(voc_dir)
    with open(osp.join(pooled, 'meta.json')) as f1, \
            open(osp.join(voc_dir, 'meta.json')) as f2:
        assert json.load(f1)['stats'] == json.load(f2)['stats']


# sha256 of render_sample's arrays (seeds [k, 0, 0], k < 3, 64 px) under
# GENERATOR_VERSION 2; unchanged by the split of the generator into
# synthetic_{classes,render,voc,dataset}.py.
RENDER_DIGEST_V2 = \
    'ef131fdcefdffba82cabcacaf337873243ba0a78d849704cc6ce22deb182decd'


def test_rendering_is_pinned_to_the_generator_version():
    """Cached datasets are reused while GENERATOR_VERSION is unchanged, so
    any change to what is drawn must bump it (and this digest)."""
    digest = hashlib.sha256()
    for seed in range(3):
        img, lab = render_sample(np.random.default_rng([seed, 0, 0]), 64)
        digest.update(img.tobytes())
        digest.update(lab.tobytes())
    assert GENERATOR_VERSION == 2
    assert digest.hexdigest() == RENDER_DIGEST_V2, (
        'render_sample draws something else than GENERATOR_VERSION 2 did: '
        'bump GENERATOR_VERSION in mmkd/datasets/synthetic_voc.py and '
        'update RENDER_DIGEST_V2')


def test_class_coverage_and_imbalance(voc_dir):
    counts = np.zeros(256, np.int64)
    for split in ('train', 'val'):
        for sid in _ids(voc_dir, split):
            counts += np.bincount(_label(voc_dir, sid).ravel(), minlength=256)
    cls_counts = counts[:K]
    assert counts[K:255].sum() == 0
    assert (cls_counts > 0).all(), dict(zip(SYNTHETIC_CLASSES, cls_counts))
    # background dominates, like VOC (roughly 3/4 of the pixels)
    assert cls_counts.argmax() == 0
    assert 0.55 < cls_counts[0] / counts.sum() < 0.9
    obj = cls_counts[1:]
    assert obj.min() * 5 < obj.max()  # skewed class frequencies
    # the void band exists but is thin
    assert 0 < counts[255] / counts.sum() < 0.08
    # meta.json statistics agree with the files
    meta = load_synthetic_meta(voc_dir)
    stats = meta['stats']
    for i, c in enumerate(SYNTHETIC_CLASSES):
        assert (stats['train']['pixel_counts'][c] +
                stats['val']['pixel_counts'][c]) == cls_counts[i]


def test_render_options():
    rng = np.random.default_rng(3)
    img, lab = render_sample(rng, img_size=96, ignore_border=False)
    assert img.shape == (96, 96, 3) and img.dtype == np.uint8
    assert lab.shape == (96, 96) and 255 not in lab
    img2, lab2 = render_sample(np.random.default_rng(3), img_size=96)
    assert np.array_equal(img, img2)
    # the void band only replaces pixels, objects keep theirs
    band = lab2 == 255
    assert band.any()
    assert np.array_equal(lab2[~band], lab[~band])
    labs = [render_sample(np.random.default_rng(i), 64, num_classes=4)[1]
            for i in range(10)]
    assert set(np.unique(np.stack(labs)).tolist()) <= {0, 1, 2, 3, 255}


def test_thin_bar_survives_void_band():
    # every rendered bar keeps labelled pixels despite the 1px void band
    found = 0
    for i in range(60):
        _, lab = render_sample(np.random.default_rng([7, i]), 128)
        found += int((lab == SYNTHETIC_CLASSES.index('bar')).sum() > 20)
    assert found >= 3


def test_caching_and_regeneration(tmp_path):
    root = str(tmp_path)
    kw = dict(num_train=3, num_val=2, seed=5)
    voc = generate_synthetic_voc(root, **kw)
    meta_path = osp.join(voc, 'meta.json')
    png = osp.join(voc, 'SegmentationClass', 'train_000000.png')
    before = (os.stat(voc).st_ino, os.stat(meta_path).st_mtime_ns,
              os.stat(png).st_mtime_ns)
    assert generate_synthetic_voc(root, **kw) == voc
    after = (os.stat(voc).st_ino, os.stat(meta_path).st_mtime_ns,
             os.stat(png).st_mtime_ns)
    assert before == after  # nothing rewritten

    # a different request regenerates
    voc2 = generate_synthetic_voc(root, num_train=3, num_val=4, seed=5)
    assert voc2 == voc
    assert len(_ids(voc, 'val')) == 4
    assert load_synthetic_meta(voc)['num_val'] == 4
    assert sorted(os.listdir(root)) == ['VOC2012']

    # overwrite=True regenerates an up-to-date dataset (same bytes)
    digest = _tree_digest(voc)
    ino = os.stat(voc).st_ino
    generate_synthetic_voc(root, num_train=3, num_val=4, seed=5,
                           overwrite=True)
    assert os.stat(voc).st_ino != ino
    assert _tree_digest(voc) == digest

    # a half-written / damaged dataset is not reused
    os.remove(osp.join(voc, 'JPEGImages', 'val_000001.jpg'))
    generate_synthetic_voc(root, num_train=3, num_val=4, seed=5)
    assert _tree_digest(voc) == digest
    os.remove(osp.join(voc, 'meta.json'))
    with pytest.raises(FileExistsError, match='meta.json'):
        # without meta.json it is not ours: never deleted implicitly
        generate_synthetic_voc(root, num_train=3, num_val=4, seed=5)
    generate_synthetic_voc(root, num_train=3, num_val=4, seed=5,
                           overwrite=True)
    assert _tree_digest(voc) == digest

    # a foreign meta.json is not ours either
    with open(osp.join(voc, 'meta.json'), 'w') as f:
        json.dump(dict(generator='someone-else'), f)
    with pytest.raises(FileExistsError):
        generate_synthetic_voc(root, num_train=3, num_val=4, seed=5)


def _pipeline():
    return [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]


def _check_loaded(ds, voc_dir, split, n=4):
    ids = _ids(voc_dir, split)
    assert len(ds) == len(ids)
    for i in range(n):
        out = ds[i]
        sample = out['data_samples']
        sid = osp.basename(sample.img_path)[:-4]
        assert sid == ids[i]
        gt = sample.gt_sem_seg.data.numpy()[0]
        assert np.array_equal(gt, _label(voc_dir, sid))
        assert tuple(out['inputs'].shape) == (3, 128, 128)


def test_load_with_mmseg(voc_dir):
    from mmengine.registry import init_default_scope
    from mmseg.datasets import BaseSegDataset, PascalVOCDataset
    from mmseg.registry import DATASETS as MMSEG_DATASETS

    from mmkd.registry import DATASETS

    init_default_scope('mmkd')
    common = dict(
        data_root=voc_dir,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        pipeline=_pipeline())

    # mmkd's dataset type: synthetic classes, no label map
    ds = DATASETS.build(
        dict(type='SyntheticVOCDataset',
             ann_file='ImageSets/Segmentation/train.txt', **common))
    assert isinstance(ds, SyntheticVOCDataset)
    assert isinstance(ds, PascalVOCDataset)
    assert ds.metainfo['classes'] == SYNTHETIC_CLASSES
    assert ds.metainfo['palette'] == SYNTHETIC_PALETTE
    assert ds.label_map is None
    _check_loaded(ds, voc_dir, 'train')
    # ... also reachable from mmseg's registry with the scope prefix
    ds = MMSEG_DATASETS.build(
        dict(type='mmkd.SyntheticVOCDataset', test_mode=True,
             ann_file='ImageSets/Segmentation/val.txt', **common))
    _check_loaded(ds, voc_dir, 'val')

    # mmseg's BaseSegDataset (empty METAINFO) with the synthetic metainfo
    ds = BaseSegDataset(
        ann_file='ImageSets/Segmentation/val.txt',
        img_suffix='.jpg', seg_map_suffix='.png',
        metainfo=synthetic_metainfo(), **common)
    assert ds.label_map is None
    assert ds.metainfo['classes'] == SYNTHETIC_CLASSES
    _check_loaded(ds, voc_dir, 'val')

    # plain PascalVOCDataset loads the same labels (under VOC's names) ...
    ds = PascalVOCDataset(ann_file='ImageSets/Segmentation/val.txt',
                          **common)
    assert ds.label_map is None
    _check_loaded(ds, voc_dir, 'val', n=2)
    # ... but refuses class names that are not VOC's (mmseg behaviour this
    # package works around with SyntheticVOCDataset)
    with pytest.raises(ValueError, match='not a subset'):
        PascalVOCDataset(ann_file='ImageSets/Segmentation/val.txt',
                         metainfo=synthetic_metainfo(), **common)


def test_load_prefix_classes_with_mmseg(tmp_path):
    voc = generate_synthetic_voc(
        str(tmp_path), num_train=4, num_val=1, num_classes=4, seed=2)
    ds = SyntheticVOCDataset(
        data_root=voc,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        metainfo=synthetic_metainfo(4),
        pipeline=_pipeline())
    assert ds.metainfo['classes'] == SYNTHETIC_CLASSES[:4]
    assert len(ds.metainfo['palette']) == 4
    # mmseg builds a label map for a class subset: identity on 0..3
    assert all(ds.label_map[i] == i for i in range(4))
    _check_loaded(ds, voc, 'train')


def test_colour_does_not_identify_class():
    """Learnability sanity: a nearest-mean-colour pixel classifier fitted on
    some renders is at chance level on others, so a model has to use
    shape."""

    def render(seed, n):
        px, lb = [], []
        for i in range(n):
            img, lab = render_sample(np.random.default_rng([seed, i]), 64)
            px.append(img.reshape(-1, 3))
            lb.append(lab.ravel())
        return (np.concatenate(px).astype(np.float32), np.concatenate(lb))

    px, lb = render(100, 150)
    pv, lv = render(200, 75)
    fg, fgv = (lb > 0) & (lb < K), (lv > 0) & (lv < K)
    means = np.stack([px[fg][lb[fg] == c].mean(0) for c in range(1, K)])
    # class mean colours sit close together relative to the colour spread
    spread = px[fg].std(0).mean()
    assert np.linalg.norm(means - px[fg].mean(0), axis=1).max() < 0.75 * spread
    dist = ((pv[fgv][:, None, :] - means[None]) ** 2).sum(-1)
    pred = dist.argmin(1) + 1
    truth = lv[fgv]
    recalls = [(pred[truth == c] == c).mean() for c in range(1, K)
               if (truth == c).any()]
    chance = 1 / (K - 1)
    assert np.mean(recalls) < 2 * chance


def test_objects_are_vivid_and_backgrounds_muted():
    """Figure/ground is visible in the colour statistics (objects draw vivid
    colours, backgrounds muted ones, a few vivid clutter blobs aside), while
    the class is not (test above)."""
    sat_fg, sat_bg = [], []
    for i in range(40):
        img, lab = render_sample(np.random.default_rng([300, i]), 64)
        hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)[..., 1] / 255.0
        fg, bg = (lab > 0) & (lab < K), lab == 0
        sat_fg.append(hsv[fg])
        sat_bg.append(hsv[bg])
    fg, bg = np.concatenate(sat_fg), np.concatenate(sat_bg)
    assert np.median(fg) > np.median(bg) + 0.2
    # not a giveaway either: some background is as vivid as objects
    assert (bg > np.median(fg)).mean() > 0.02


def test_cli(tmp_path, capsys):
    mod = load_tool('generate_synthetic_voc')
    out = str(tmp_path / 'syn')
    mod.main(['--out', out, '--num-train', '2', '--num-val', '1', '--size',
              '64', '--seed', '3'])
    voc = osp.join(out, 'VOC2012')
    meta = load_synthetic_meta(voc)
    assert meta['img_size'] == 64 and meta['seed'] == 3
    assert Image.open(osp.join(voc, 'JPEGImages',
                               'val_000000.jpg')).size == (64, 64)
    assert 'data_root' in capsys.readouterr().out
    mod.main(['--out', out, '--num-train', '2', '--num-val', '1', '--size',
              '64', '--seed', '3'])
    assert 'up to date' in capsys.readouterr().out


def test_large_layout(tmp_path):
    """The 'large' layout: fewer, larger objects; recorded in meta.json
    (the default request, and so version 2's caches, are unchanged)."""
    from mmkd.datasets.synthetic_voc import LAYOUTS

    def objects(layout, i):
        _, lab = render_sample(np.random.default_rng([11, i]), 64,
                               **LAYOUTS[layout])
        return lab
    voc = [objects('voc', i) for i in range(40)]
    large = [objects('large', i) for i in range(40)]

    def classes(lab):
        return set(np.unique(lab).tolist()) - {0, 255}

    def area_per_class(labs):
        return np.mean([((lab > 0) & (lab < 255)).sum() / len(classes(lab))
                        for lab in labs if classes(lab)])
    assert max(len(classes(lab)) for lab in large) <= 4
    assert area_per_class(large) > area_per_class(voc)
    # the default layout draws exactly what version 2 drew
    img, lab = render_sample(np.random.default_rng([11, 0]), 64)
    assert np.array_equal(lab, voc[0])
    out = generate_synthetic_voc(str(tmp_path / 'l'), num_train=2,
                                 num_val=1, img_size=48, layout='large',
                                 num_classes=7)
    meta = load_synthetic_meta(out)
    assert meta['layout'] == 'large' and meta['num_classes'] == 7
    plain = generate_synthetic_voc(str(tmp_path / 'p'), num_train=1,
                                   num_val=1, img_size=48)
    assert 'layout' not in load_synthetic_meta(plain)
    with pytest.raises(ValueError, match='layout'):
        generate_synthetic_voc(str(tmp_path / 'x'), layout='nope')
