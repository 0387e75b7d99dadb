"""The ImageNet configs: they build offline, read both ImageNet layouts
with mmpretrain's datasets and pipelines, state the authors' recipe, train
a few iterations through tools/train.py, and a missing dataset stops with
the expected layout."""
import glob
import os
import os.path as osp
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision
from mmengine.config import Config
from mmengine.runner import Runner
from PIL import Image

from mmkd.datasets.imagenet_check import check_cls_datasets
from mmkd.registry import MODELS
from mmkd.utils.data_check import DatasetNotFoundError

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(
    p for p in glob.glob(osp.join(ROOT, 'configs', 'imagenet', '**', '*.py'),
                         recursive=True) if '_base_' not in p)
IMAGENET_CONFIGS = [p for p in CONFIGS if '/quickstart/' not in p]
WNIDS = ('n01440764', 'n01443537', 'n01484850')
#: Distiller configs whose trained checkpoint also goes through tools/test.py
TEST_PY_CONFIGS = ('ickd/ickd-c_resnet34_resnet18_adamw-100e_8xb32_in1k.py',
                   'kd/kd_resnet34_resnet18_adamw-100e_8xb32_in1k.py')


def name(path):
    return osp.relpath(path, osp.join(ROOT, 'configs', 'imagenet'))


def make_imagenet(root, layout, per_class=2, size=40):
    """Tiny ImageNet in the folder or the annotation-file layout."""
    rng = np.random.default_rng(0)
    lines = {'train': [], 'val': []}
    for split in ('train', 'val'):
        for label, wnid in enumerate(WNIDS):
            for i in range(per_class):
                if split == 'train' or layout == 'folder':
                    rel = f'{wnid}/{wnid}_{i}.JPEG'
                else:  # the official val set is flat
                    rel = f'ILSVRC2012_val_{label * per_class + i:08d}.JPEG'
                path = osp.join(root, split, rel)
                os.makedirs(osp.dirname(path), exist_ok=True)
                pixels = rng.integers(0, 255, (size, size + 8, 3), np.uint8)
                Image.fromarray(pixels).save(path, quality=90)
                lines[split].append(f'{rel} {label}')
    if layout == 'annotation':
        os.makedirs(osp.join(root, 'meta'))
        for split, rows in lines.items():
            with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
                f.write('\n'.join(rows) + '\n')
    return str(root)


def offline(cfg):
    """The config with nothing to download: no weights, no teacher."""
    model = cfg.model
    if model.type == 'ClsDistiller':
        model.student.weights = None
        model.teacher_checkpoint = None
    else:
        model.weights = None
    return cfg


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('a config build touched the network')

    monkeypatch.setattr(socket.socket, 'connect', refuse)


def own_code_lines(path):
    with open(path) as f:
        return [ln for ln in f
                if ln.strip() and not ln.lstrip().startswith('#')]


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_config_is_short(path):
    assert len(own_code_lines(path)) <= 30


@pytest.mark.parametrize('path', CONFIGS, ids=name)
def test_model_builds_without_network(path, no_network):
    cfg = Config.fromfile(path)
    model_cfg = cfg.model
    if model_cfg.type == 'ClsDistiller':
        # the teacher's weights would be read at build: leave them out;
        # the student's ImageNet weights are only read by init_weights()
        model_cfg.teacher_checkpoint = None
    model = MODELS.build(model_cfg)
    student = getattr(model, 'student', model)
    last = [m for m in student.modules() if isinstance(m, torch.nn.Linear)]
    assert last[-1].out_features == cfg.data_preprocessor.num_classes


@pytest.mark.parametrize('layout', ['annotation', 'folder'])
@pytest.mark.parametrize('path', IMAGENET_CONFIGS, ids=name)
def test_imagenet_loaders_and_preprocessing(path, layout, tmp_path):
    root = make_imagenet(tmp_path, layout)
    cfg = offline(Config.fromfile(path))
    model = MODELS.build(cfg.model)
    for loader in ('train_dataloader', 'val_dataloader'):
        loader_cfg = cfg[loader]
        loader_cfg.update(num_workers=0, persistent_workers=False,
                          batch_size=2)
        loader_cfg.dataset.data_root = root
        if layout == 'folder':  # ImageNet insists on 1000 wnid folders
            loader_cfg.dataset.metainfo = dict(classes=WNIDS)
        check_cls_datasets(cfg, loaders=(loader, ))
        data = next(iter(Runner.build_dataloader(loader_cfg)))
        batch = model.data_preprocessor(data, loader == 'train_dataloader')
        assert batch['inputs'].shape == (2, 3, 224, 224)
        assert batch['inputs'].dtype == torch.float32
        assert abs(float(batch['inputs'].mean())) < 1.5  # normalised
        labels = [int(s.gt_label) for s in batch['data_samples']]
        assert all(0 <= y < len(WNIDS) for y in labels)


def test_ickd_c_states_the_authors_recipe():
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs/imagenet/ickd/'
                 'ickd-c_resnet34_resnet18_adamw-100e_8xb32_in1k.py'))
    assert cfg.model.student.model_name == 'resnet18'
    assert cfg.model.student.weights == 'IMAGENET1K_V1'
    assert cfg.model.teacher.model_name == 'resnet34'
    assert cfg.model.teacher_checkpoint == \
        'torchvision://resnet34.imagenet1k_v1'
    kd, icc = cfg.model.distill
    assert (kd.student, kd.teacher) == ('fc', 'fc')
    assert (kd.loss.type, kd.loss.tau, kd.loss.loss_weight) == (
        'ClsKDLoss', 1.0, 0.5)
    assert (icc.student, icc.teacher) == ('layer4', 'layer4')
    assert icc.student_transforms == [dict(type='ConvBNConnector')]
    assert dict(icc.loss) == dict(
        type='ICKDLoss', grid_size=(1, 1), normalize='row',
        row_denominator='batch_squared', loss_weight=500.0)
    assert cfg.optim_wrapper.optimizer.type == 'AdamW'
    assert cfg.optim_wrapper.optimizer.lr == 2e-4
    assert cfg.train_cfg.max_epochs == 100
    assert cfg.train_dataloader.batch_size * 8 == \
        cfg.auto_scale_lr.base_batch_size == 256
    kd_cfg = Config.fromfile(
        osp.join(ROOT, 'configs/imagenet/kd/'
                 'kd_resnet34_resnet18_adamw-100e_8xb32_in1k.py'))
    assert [dict(d) for d in kd_cfg.model.distill] == [dict(kd)]
    base = Config.fromfile(
        osp.join(ROOT, 'configs/imagenet/baselines/'
                 'resnet18_tv-in1k_adamw-100e_8xb32_in1k.py'))
    assert base.optim_wrapper == cfg.optim_wrapper
    assert base.param_scheduler == cfg.param_scheduler


def test_missing_imagenet_names_the_layout(tmp_path):
    cfg = Config.fromfile(IMAGENET_CONFIGS[0])
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = str(tmp_path / 'imagenet')
    with pytest.raises(DatasetNotFoundError) as err:
        check_cls_datasets(cfg)
    text = str(err.value)
    for needle in ('train_dataloader', 'mmpretrain.ImageNet', 'data_root',
                   'image-net.org', 'train/n01440764/', 'meta/val.txt',
                   '--cfg-options'):
        assert needle in text, text
    # an empty split folder, and an annotation file whose folder is gone
    os.makedirs(tmp_path / 'imagenet' / 'train' / 'n01440764')
    with pytest.raises(DatasetNotFoundError, match='found no <class>/<image>'):
        check_cls_datasets(cfg)
    make_imagenet(tmp_path / 'ann', 'annotation')
    os.rename(tmp_path / 'ann' / 'val', tmp_path / 'ann' / 'val_moved')
    for loader in ('train_dataloader', 'val_dataloader'):
        cfg[loader].dataset.data_root = str(tmp_path / 'ann')
    with pytest.raises(DatasetNotFoundError, match='image folder.*val'):
        check_cls_datasets(cfg)


def test_non_mmpretrain_datasets_are_not_checked(tmp_path):
    cfg = Config(dict(train_dataloader=dict(dataset=dict(
        type='mmkd.SyntheticVOCDataset', data_root=str(tmp_path / 'x')))))
    check_cls_datasets(cfg)


def run_train(args):
    proc = subprocess.run([sys.executable, 'tools/train.py', *args],
                          cwd=ROOT, capture_output=True, text=True,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    return proc.returncode, proc.stdout + proc.stderr


def tiny_config(path, root, out):
    """The config on tiny data: 32 px crops, batches of 3, no workers, 1
    epoch (2 iterations), every ImageNet loader (hooks' too) at ``root``,
    nothing to download; written to ``out``."""
    cfg = offline(Config.fromfile(path))
    sizes = {'mmpretrain.RandomResizedCrop': ('scale', 32),
             'mmpretrain.ResizeEdge': ('scale', 36),
             'mmpretrain.CenterCrop': ('crop_size', 32)}

    def shrink(obj):
        if isinstance(obj, dict):
            if obj.get('data_root') == 'data/imagenet':
                obj['data_root'] = root
            if obj.get('type') in sizes:
                key, value = sizes[obj['type']]
                obj[key] = value
            if 'num_workers' in obj:
                obj.update(num_workers=0, persistent_workers=False,
                           batch_size=3)
            for value in obj.values():
                shrink(value)
        elif isinstance(obj, list):
            for value in obj:
                shrink(value)

    data = cfg.to_dict()
    shrink(data)
    data['train_cfg']['max_epochs'] = 1
    data['default_hooks']['logger']['interval'] = 1
    data['env_cfg']['cudnn_benchmark'] = False
    Config(data).dump(out)
    return cfg


def test_configs_checked_through_test_py_exist():
    # a renamed config must not drop the tools/test.py check silently
    assert set(TEST_PY_CONFIGS) <= {name(p) for p in IMAGENET_CONFIGS}


@pytest.mark.parametrize('path', IMAGENET_CONFIGS, ids=name)
def test_few_iterations_through_train_py(path, tmp_path):
    root = make_imagenet(tmp_path / 'imagenet', 'annotation')
    config = str(tmp_path / 'tiny.py')
    cfg = tiny_config(path, root, config)
    args = [config, '--work-dir', str(tmp_path / 'work')]
    if cfg.model.type == 'ClsDistiller':
        # a teacher file as torchvision:// delivers it (old BN format)
        teacher = torchvision.models.get_model(
            cfg.model.teacher.model_name,
            num_classes=cfg.model.teacher.num_classes)
        state = {k: v for k, v in teacher.state_dict().items()
                 if not k.endswith('num_batches_tracked')}
        torch.save(state, tmp_path / 'teacher.pth')
        args += ['--cfg-options',
                 f'model.teacher_checkpoint={tmp_path}/teacher.pth']
    code, out = run_train(args)
    assert code == 0, out[-5000:]
    assert re.search(r'Epoch\(train\)\s+\[1\]\[2/2\]', out), out[-3000:]
    assert re.search(r'accuracy/top1: [0-9.]+\s+accuracy/top5: [0-9.]+',
                     out), out[-3000:]
    if cfg.model.type == 'ClsDistiller':
        assert 'loaded teacher from' in out
        for term in cfg.model.distill:
            assert f'distill.{term.name}: ' in out
    ckpt = tmp_path / 'work' / 'epoch_1.pth'
    assert osp.isfile(ckpt)
    if name(path) in TEST_PY_CONFIGS:
        # tools/test.py evaluates the student alone: no teacher, no network
        # (the distiller's code path, the same for every method: checked on
        # one relation and one logit method, to keep CI's time)
        proc = subprocess.run(
            [sys.executable, 'tools/test.py', config, str(ckpt),
             '--work-dir', str(tmp_path / 'test'), '--cfg-options',
             'model.teacher_checkpoint=/nonexistent.pth'],
            cwd=ROOT, capture_output=True, text=True,
            env=dict(os.environ, OMP_NUM_THREADS='1'))
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, out[-5000:]
        assert re.search(r'accuracy/top1: [0-9.]+', out), out[-3000:]
        assert 'loaded teacher' not in out


def test_train_py_stops_on_missing_imagenet(tmp_path):
    path = osp.join(ROOT, 'configs/imagenet/ickd/'
                    'ickd-c_resnet34_resnet18_adamw-100e_8xb32_in1k.py')
    code, out = run_train([
        path, '--work-dir', str(tmp_path / 'work'), '--cfg-options',
        f'train_dataloader.dataset.data_root={tmp_path}/none',
        f'val_dataloader.dataset.data_root={tmp_path}/none'])
    assert code == 1
    assert f'{tmp_path}/none' in out and 'image-net.org' in out, out[-2000:]
    assert 'meta/train.txt' in out
    assert not osp.exists(tmp_path / 'work')  # stopped before the runner
