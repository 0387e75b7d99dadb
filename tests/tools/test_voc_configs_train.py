"""Every distillation method trains through ``tools/train.py`` with its VOC
config: the config file itself, loaded with its ``_base_`` chain, only made
tiny.

Tiny Pascal VOC 2012 *aug* data (``JPEGImages``, ``SegmentationClass`` +
``train.txt``, ``SegmentationClassAug`` + ``aug.txt``, ``val.txt``) is
generated once; each config is rewritten to it and shrunk, dumped with
``Config.dump`` and trained for 2 iterations (batch 2, 64x64 crops, a
2-image validation at the end) by ``tools/train.py``'s ``main()``, run
in-process so that mmseg is imported once for all configs.

What shrinking keeps: the model types and depths (a ResNetV1c-101 teacher,
so that layer names such as ``backbone.layer3.22`` still exist; the
ResNetV1c-18 or MobileNetV2 student), every distill item, connector, loss
and hook (MGD's ``MatchingGuidedHook`` with its own loader), the data
pipelines with mmkd's checked loaders, the optimiser and loop types. What it
changes: widths (ResNetV1c stem 8 / base 4, MobileNetV2 x0.25 and the heads'
channels after them), sizes (crops, resizes, ``data_preprocessor.size``),
iteration counts, loader workers, no pretrained or teacher weights.

Each run must exit cleanly, log every distill item of the config and the
decode loss as finite numbers, validate and write a checkpoint. A wrong layer
name fails (the last test), as it would on the full-size config.
"""
import copy
import glob
import math
import os
import os.path as osp
import re
import runpy
import sys

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image
from tiny_runs import unique_name

from mmkd.datasets import generate_synthetic_voc
from mmkd.utils.tool_utils import strip_pretrained

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METHODS = ('ccs', 'dlkd', 'irg', 'at', 'fitnets', 'mgd', 'kd', 'cwd')
# ICKD: the 4x4 grid of every architecture pair (the other grids change only
# the grid, tests/test_configs.py; 32x32 cells need more than a 64 px crop).
CONFIGS = sorted(
    p for method in METHODS
    for p in glob.glob(osp.join(ROOT, 'configs', method, '*.py'))) + sorted(
        glob.glob(osp.join(ROOT, 'configs', 'ickd', 'ickd-s4x4_*.py'))) + [
            osp.join(ROOT, 'configs', 'ickd_voc.py')]
VOC_ROOT = 'data/VOCdevkit/VOC2012'
SIZE = 64
ITERS = 2
MBV2_WIDEN = 0.25
# Head widths: decode head channels, auxiliary head channels, DeepLabV3+'s
# c1_channels (the student narrower than the teacher, as at full size).
HEADS = dict(student=(8, 4, 4), teacher=(16, 8, 8))


def name(path):
    return osp.relpath(path, osp.join(ROOT, 'configs'))


# ---------------------------------------------------------------- data
def make_voc12_aug(root, num_train=4, num_val=2):
    """Synthetic VOC 2012 in the layout of configs/_base_/datasets/
    pascal_voc12_aug.py, under ``<root>/VOCdevkit/VOC2012``: the generator's
    train / val split plus an aug split (``aug.txt``, its masks in
    ``SegmentationClassAug`` as single-channel PNGs, as
    tools/convert_voc_aug.py writes them) of the train images flipped."""
    voc = generate_synthetic_voc(
        osp.join(root, 'VOCdevkit'), num_train=num_train, num_val=num_val,
        img_size=SIZE, seed=0)
    sets = osp.join(voc, 'ImageSets', 'Segmentation')
    with open(osp.join(sets, 'train.txt')) as f:
        train_ids = f.read().split()
    os.makedirs(osp.join(voc, 'SegmentationClassAug'))
    aug_ids = []
    for sid in train_ids:
        aug = f'{sid}_aug'
        img = Image.open(osp.join(voc, 'JPEGImages', f'{sid}.jpg'))
        img.transpose(Image.FLIP_LEFT_RIGHT).save(
            osp.join(voc, 'JPEGImages', f'{aug}.jpg'))
        label = np.array(Image.open(
            osp.join(voc, 'SegmentationClass', f'{sid}.png')))
        assert label.ndim == 2 and ((label < 21) | (label == 255)).all()
        Image.fromarray(np.ascontiguousarray(label[:, ::-1])).save(
            osp.join(voc, 'SegmentationClassAug', f'{aug}.png'))
        aug_ids.append(aug)
    with open(osp.join(sets, 'aug.txt'), 'w') as f:
        f.write(''.join(f'{i}\n' for i in aug_ids))
    return voc


@pytest.fixture(autouse=True)
def _unformatted_configs(monkeypatch):
    """Config text as mmengine writes it with ``format_python_code=False``:
    a run formats its config with yapf five times (log, dump, visualizer,
    checkpoint meta), 80% of a tiny run's time; the text is the same
    config, only not reflowed."""
    monkeypatch.setattr('mmengine.config.config.FormatCode',
                        lambda text, **kwargs: (text, False))


@pytest.fixture(scope='module')
def voc_root(tmp_path_factory):
    return make_voc12_aug(str(tmp_path_factory.mktemp('voc')))


# ---------------------------------------------------------------- config
def stage_channels(backbone):
    """Output channels of each of the backbone's outputs (out_indices)."""
    if backbone.type == 'ResNetV1c':
        expansion = 1 if backbone.depth < 50 else 4
        return [backbone.base_channels * 2**i * expansion for i in range(4)]
    if backbone.type == 'MobileNetV2':
        from mmseg.models.backbones import MobileNetV2
        from mmseg.models.utils import make_divisible
        widths = [c for _, c, _ in MobileNetV2.arch_settings]
        return [make_divisible(widths[i] * backbone.widen_factor, 8)
                for i in backbone.out_indices]
    raise NotImplementedError(
        f'no tiny width for a {backbone.type} backbone: add it here')


def shrink_segmentor(seg, role):
    """Narrow a segmentor in place, keeping its types, depth and layers."""
    backbone = seg.backbone
    if backbone.type == 'ResNetV1c':
        backbone.update(stem_channels=8, base_channels=4)
    elif backbone.type == 'MobileNetV2':
        backbone.widen_factor = MBV2_WIDEN
    channels = stage_channels(backbone)
    decode, aux, c1 = HEADS[role]
    head = seg.decode_head
    head.update(in_channels=channels[head.in_index], channels=decode)
    if 'c1_in_channels' in head:  # DeepLabV3+: the decoder reads output 0
        head.update(c1_in_channels=channels[0], c1_channels=c1)
    if seg.get('auxiliary_head'):
        seg.auxiliary_head.update(
            in_channels=channels[seg.auxiliary_head.in_index], channels=aux)


def shrink_data(obj, voc_root):
    """Point every VOC dataset (hooks' loaders too) at ``voc_root`` and
    scale the 512 px pipelines and preprocessors down to SIZE; no workers.
    Walks dicts and lists in place."""
    if isinstance(obj, dict):
        if obj.get('data_root') == VOC_ROOT:
            obj['data_root'] = voc_root
        kind = obj.get('type')
        if kind in ('RandomResize', 'Resize') and 'scale' in obj:
            obj['scale'] = (4 * SIZE, SIZE)  # was (2048, 512)
        elif kind == 'RandomCrop':
            obj['crop_size'] = (SIZE, SIZE)
        elif kind == 'Pad':
            obj['size'] = (SIZE, SIZE)
        elif kind == 'SegDataPreProcessor':
            obj['size'] = (SIZE, SIZE)
        elif kind == 'MatchingGuidedHook':
            obj['num_images'] = 2
        if 'num_workers' in obj:
            obj.update(num_workers=0, persistent_workers=False)
        for value in obj.values():
            shrink_data(value, voc_root)
    elif isinstance(obj, list):
        for value in obj:
            shrink_data(value, voc_root)


def tiny_config(path, voc_root, out):
    """The config at ``path``, tiny (see the module docstring), dumped to
    ``out``; returns the original config."""
    original = Config.fromfile(path)
    cfg = copy.deepcopy(original)
    model = cfg.model
    model.teacher_checkpoint = None
    strip_pretrained(model)
    for role in ('student', 'teacher'):
        shrink_segmentor(model[role], role)
    data = cfg.to_dict()
    shrink_data(data, voc_root)
    data['train_dataloader']['batch_size'] = 2
    data['train_cfg'].update(max_iters=ITERS, val_interval=ITERS)
    for scheduler in data['param_scheduler']:
        scheduler['end'] = min(scheduler['end'], ITERS)
    data['default_hooks']['logger']['interval'] = 1
    data['default_hooks']['checkpoint']['interval'] = ITERS
    data['env_cfg']['cudnn_benchmark'] = False
    # runs share this process: each needs its own logger and visualizer
    data['visualizer'].pop('name', None)
    data['experiment_name'] = unique_name(
        osp.splitext(osp.basename(path))[0].split('_')[0])
    Config(data).dump(out)
    return original


def train_py(config, work_dir, monkeypatch):
    """``python tools/train.py CONFIG --work-dir WORK_DIR`` from the repo
    root, in this process; returns the run's log text."""
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv('LOCAL_RANK', '0')
    monkeypatch.setattr(
        sys, 'argv', ['tools/train.py', config, '--work-dir', work_dir])
    runpy.run_path(osp.join(ROOT, 'tools', 'train.py'), run_name='__main__')
    logs = glob.glob(osp.join(work_dir, '*', '*.log'))
    assert len(logs) == 1, logs
    with open(logs[0]) as f:
        return f.read()


def logged_value(log, key):
    """The value of ``key`` on the last training iteration's log line."""
    lines = re.findall(rf'Iter\(train\) \[{ITERS}/{ITERS}\].*', log)
    assert lines, f'no iteration {ITERS} in the log:\n{log[-3000:]}'
    found = re.search(rf'\s{re.escape(key)}: (\S+)', lines[-1])
    assert found, f'{key} not logged:\n{lines[-1]}'
    return float(found.group(1))


# ---------------------------------------------------------------- tests
def test_config_list():
    # the glob found every method's configs and each architecture pair
    found = {name(p).split('/')[0] for p in CONFIGS}
    assert set(METHODS) | {'ickd'} <= found
    for pair in ('deeplabv3-r101_deeplabv3-r18', 'deeplabv3-r101_deeplabv3-'
                 'mbv2', 'deeplabv3plus-r101_deeplabv3plus-r18',
                 'deeplabv3plus-r101_deeplabv3plus-mbv2',
                 'pspnet-r101_pspnet-r18'):
        assert any(pair in p for p in CONFIGS), pair
    assert len(CONFIGS) >= 22


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_trains_through_train_py(path, voc_root, tmp_path, monkeypatch):
    config = str(tmp_path / osp.basename(path))
    original = tiny_config(path, voc_root, config)
    tiny = Config.fromfile(config)
    assert tiny.model.type == original.model.type == 'SegDistiller'
    for role in ('student', 'teacher'):  # same architecture, only narrower
        for key in ('type', 'depth', 'out_indices', 'strides', 'dilations'):
            assert tiny.model[role].backbone.get(key) == \
                original.model[role].backbone.get(key), (role, key)
        assert tiny.model[role].decode_head.type == \
            original.model[role].decode_head.type
    assert tiny.model.teacher.backbone.depth == 101
    assert tiny.model.distill == original.model.distill
    assert [h.type for h in tiny.custom_hooks] == [
        h.type for h in original.custom_hooks]

    work_dir = str(tmp_path / 'work')
    log = train_py(config, work_dir, monkeypatch)
    names = [item.name for item in original.model.distill]
    for key in ['decode.loss_ce'] + [f'distill.{n}' for n in names]:
        value = logged_value(log, key)
        assert math.isfinite(value), (key, value)
    assert re.search(r'Iter\(val\) .*mIoU: [0-9.]+', log), log[-3000:]
    if any(h.type == 'MatchingGuidedHook' for h in original.custom_hooks):
        # matched before training, on the hook's own loader (2 images)
        assert 'MatchingGuidedHook: matched on 2 images' in log, log[-3000:]
    assert osp.isfile(osp.join(work_dir, f'iter_{ITERS}.pth'))


def test_wrong_layer_name_fails(voc_root, tmp_path, monkeypatch):
    """A layer the teacher does not have stops train.py before training:
    R101's stage 3 has blocks 0..22, so ``backbone.layer3.23`` is wrong."""
    path = osp.join(ROOT, 'configs', 'irg',
                    'irg_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py')
    config = str(tmp_path / 'irg.py')
    tiny_config(path, voc_root, config)
    cfg = Config.fromfile(config)
    item = cfg.model.distill[2]
    assert item.teacher == ['backbone.layer3.0', 'backbone.layer3.22']
    item.teacher = ['backbone.layer3.0', 'backbone.layer3.23']
    cfg.dump(config)
    work_dir = str(tmp_path / 'work')
    with pytest.raises(KeyError, match=r"teacher has no module named "
                       r"'backbone\.layer3\.23'"):
        train_py(config, work_dir, monkeypatch)
    assert not glob.glob(osp.join(work_dir, '*.pth'))
