"""Profiles of the efficacy protocol (mmkd/apis/quickstart_profile.py):
the gpu256 profile rewrites every stage's config, and the benchmark runs
the whole protocol under a profile end to end (a tiny one, on the CPU)."""
import json
import os.path as osp
import sys

import pytest

from mmkd.apis.quickstart_config import stage_config
from mmkd.apis.quickstart_profile import (PROFILE_KEYS, apply_profile,
                                          available_profiles, load_profile,
                                          profile_data)

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _steps(pipeline, kind):
    return [t for t in pipeline if t['type'] == kind]


def _config(stage, tmp_path, profile=None):
    return stage_config(stage, data_root=str(tmp_path / 'data'),
                        work_dir=str(tmp_path / stage), profile=profile,
                        teacher_checkpoint='teacher.pth')


def test_gpu256_rewrites_models_data_and_runtime(tmp_path):
    profile = load_profile('gpu256')
    assert 'gpu256' in available_profiles()
    teacher = _config('teacher', tmp_path, profile)
    assert teacher.model.backbone.depth == 50
    assert teacher.model.decode_head.in_channels == 2048
    baseline = _config('baseline', tmp_path, profile)
    assert baseline.model.backbone.depth == 18
    assert 'base_channels' not in baseline.model.backbone  # full width
    assert baseline.model.decode_head.in_channels == 512
    for cfg in (teacher, baseline):
        assert cfg.model.data_preprocessor.size == (256, 256)
        crop = _steps(cfg.train_dataloader.dataset.pipeline, 'RandomCrop')
        assert crop[0]['crop_size'] == (256, 256)
        resize = _steps(cfg.val_dataloader.dataset.pipeline, 'Resize')
        assert resize[0]['scale'] == (256, 256)
        assert cfg.train_dataloader.num_workers == 3
        assert cfg.val_dataloader.num_workers == 2
        # mmengine's AmpOptimWrapper needs an accelerator: on this CPU the
        # profile keeps the plain wrapper; the optimiser is the recipe's
        assert cfg.optim_wrapper.type == 'OptimWrapper'
        assert cfg.optim_wrapper.optimizer.lr == 0.002
        # the data root set after the profile still applies
        assert cfg.train_dataloader.dataset.data_root == str(
            tmp_path / 'data')


def test_gpu256_keeps_each_method_as_configured(tmp_path):
    profile = load_profile('gpu256')
    for method in ('ickd', 'kd', 'mgd_amp'):
        plain = _config(method, tmp_path)
        cfg = _config(method, tmp_path, profile)
        assert cfg.model.distill == plain.model.distill
        assert cfg.distill_weight_rule == plain.distill_weight_rule
        assert cfg.model.student.backbone.depth == 18
        assert cfg.model.teacher.backbone.depth == 50
        assert cfg.model.teacher_checkpoint == 'teacher.pth'
        assert cfg.model.data_preprocessor.size == (256, 256)
    # MGD's matching loader reads images the way validation does
    hook = next(h for h in cfg.custom_hooks
                if h['type'] == 'MatchingGuidedHook')
    assert _steps(hook['dataloader']['dataset']['pipeline'],
                  'Resize')[0]['scale'] == (256, 256)
    assert not _steps(hook['dataloader']['dataset']['pipeline'],
                      'RandomCrop')


def test_gpu256_distiller_builds(tmp_path):
    """The ICKD-S config under the profile builds: its connector lifts the
    ResNet-18 student's 128 head channels to the ResNet-50 teacher's 256."""
    from mmengine.registry import DefaultScope

    from mmkd.registry import MODELS
    cfg = _config('ickd', tmp_path, load_profile('gpu256'))
    cfg.model.teacher_checkpoint = None
    with DefaultScope.overwrite_default_scope('mmkd'):
        model = MODELS.build(cfg.model)
    item = next(i for i in model.distill_items if i.name == 'loss_ickd')
    conv = next(m for m in item.modules()
                if m.__class__.__name__ == 'Conv2d')
    assert (conv.in_channels, conv.out_channels) == (128, 256)


def test_without_a_profile_nothing_changes(tmp_path):
    cfg = _config('kd', tmp_path)
    apply_profile(cfg, 'kd', None)
    assert cfg.model.student.backbone.base_channels == 8
    assert cfg.model.data_preprocessor.size == (64, 64)
    assert profile_data(None) is None


def test_profile_data_and_errors(tmp_path):
    profile = load_profile('gpu256')
    assert profile_data(profile)['img_size'] == 256
    tiny = profile_data(profile, tiny=True)
    assert tiny['img_size'] == 256 and tiny['num_train'] == 16
    with pytest.raises(ValueError, match=r"unknown profile 'gpu1024'.*"
                       r"gpu256"):
        load_profile('gpu1024')
    bad = tmp_path / 'half.py'
    bad.write_text("data = dict(img_size=32)\n")
    with pytest.raises(ValueError, match='does not define') as err:
        load_profile(str(bad))
    assert 'teacher_model' in str(err.value)
    assert set(PROFILE_KEYS) <= set(load_profile('gpu256'))


TINY_PROFILE = """
_base_ = ['{base}']
data = dict(img_size=48, num_train=16, num_val=8)
crop_size = (32, 32)
img_scale = (48, 48)
pretext = dict(crop_size=24, batch_size=8)
labels = dict(teacher='Teacher (tiny profile)')
_dp = dict(size=crop_size)
teacher_model = dict(
    data_preprocessor=_dp,
    backbone=dict(depth=18, stem_channels=8, base_channels=8),
    decode_head=dict(in_channels=64, channels=16),
    auxiliary_head=dict(in_channels=32, channels=8))
student_model = dict(
    data_preprocessor=_dp,
    backbone=dict(depth=18, stem_channels=4, base_channels=4),
    decode_head=dict(in_channels=32, channels=8),
    auxiliary_head=dict(in_channels=16, channels=4))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=img_scale, ratio_range=(0.75, 1.5),
         keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_loader = dict(num_workers=0, persistent_workers=False)
val_loader = dict(num_workers=0, persistent_workers=False)
"""


def test_benchmark_under_a_profile(tmp_path):
    """The whole protocol under a (tiny) profile: its data size, its models
    for pretext, teacher and students, its labels in the table."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import benchmark_efficacy
    path = tmp_path / 'tiny.py'
    path.write_text(TINY_PROFILE.format(
        base=osp.join(REPO, 'configs', 'quickstart', 'profiles',
                      'gpu256.py')))
    out = tmp_path / 'eff'
    benchmark_efficacy.main([
        '--profile', str(path), '--tiny', '--data-root',
        str(tmp_path / 'data'), '--protocol-dir', str(tmp_path / 'proto'),
        '--work-dir', str(out), '--seeds', '0', '--methods', 'kd', '--jobs',
        '1', '--iters', 'teacher=2,student=2,pretext=2', '--no-diagnostics'
    ])
    with open(tmp_path / 'data' / 'VOC2012' / 'meta.json') as f:
        meta = json.load(f)
    assert (meta['img_size'], meta['num_train']) == (48, 16)
    text = (out / 'student2' / 'efficacy.md').read_text()
    assert '| Teacher (tiny profile) |' in text
    assert '| Student alone (DeepLabV3 R18, full width) |' in text
    with open(out / 'student2' / 'efficacy.json') as f:
        records = json.load(f)['records']
    kd = next(r for r in records if r['stage'] == 'kd')
    assert kd['weight_rule']['weights']['loss_kd'] > 0
    # the runs trained the profile's student: 4 stem channels, 32 px crops
    from mmengine.config import Config
    run = Config.fromfile(next((out / 'student2' / 'kd' / 'seed0').glob(
        '*/vis_data/config.py')))
    assert run.model.student.backbone.base_channels == 4
    assert tuple(run.model.data_preprocessor.size) == (32, 32)
    with open(tmp_path / 'proto' / 'pretext' / 'teacher' /
              'pretext_cache.json') as f:
        assert json.load(f)['num_crops'] > 0
