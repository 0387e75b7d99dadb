"""Profiles of the efficacy protocol (mmkd/apis/quickstart_profile.py):
the gpu256 profile rewrites every stage's config, and the benchmark runs
the whole protocol under a profile end to end (a tiny one, on the CPU)."""
import json
import os
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
    # full width: ResNet-18's own 64 channels (the quickstart's are 8)
    assert baseline.model.backbone.base_channels == 64
    assert baseline.model.backbone.stem_channels == 64
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


def test_gpu256_pipelines_are_the_quickstarts_rescaled(tmp_path):
    """Each loader keeps the quickstart's steps, their sizes the
    profile's; a profile's own pipeline replaces the stage's."""
    plain = _config('baseline', tmp_path)
    cfg = _config('baseline', tmp_path, load_profile('gpu256'))
    train = cfg.train_dataloader.dataset.pipeline
    assert [t['type'] for t in train] == [
        t['type'] for t in plain.train_dataloader.dataset.pipeline]
    assert _steps(train, 'RandomResize')[0]['scale'] == (256, 256)
    assert _steps(train, 'RandomResize')[0]['ratio_range'] == (0.75, 1.5)
    assert _steps(train, 'RandomCrop')[0]['cat_max_ratio'] == 0.75
    assert [t['type'] for t in cfg.val_dataloader.dataset.pipeline] == [
        t['type'] for t in plain.val_dataloader.dataset.pipeline]
    own = tmp_path / 'own.py'
    own.write_text(
        "_base_ = ['%s']\n"
        "train_pipeline = [dict(type='LoadImageFromFile'),\n"
        "                  dict(type='LoadAnnotations'),\n"
        "                  dict(type='PackSegInputs')]\n" % osp.join(
            REPO, 'configs', 'quickstart', 'profiles', 'gpu256.py'))
    cfg = _config('baseline', tmp_path, load_profile(str(own)))
    assert [t['type'] for t in cfg.train_dataloader.dataset.pipeline] == [
        'LoadImageFromFile', 'LoadAnnotations', 'PackSegInputs']
    assert _steps(cfg.val_dataloader.dataset.pipeline,
                  'Resize')[0]['scale'] == (256, 256)


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


def _tiny_profile(path) -> None:
    """Write a tiny variant of gpu256 to ``path``: 48 px images, 32 px
    crops, ResNet-18 at widths 8 (teacher) and 4 (student), no loader
    workers."""
    from mmengine.config import Config
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'quickstart',
                                   'profiles', 'gpu256.py'))
    cfg.data.update(img_size=48, num_train=16, num_val=8)
    cfg.crop_size = (32, 32)
    cfg.pretext = dict(crop_size=24, batch_size=8)
    cfg.labels.teacher = 'Teacher (tiny profile)'
    widths = dict(teacher=8, student=4)
    for role, w in widths.items():
        model = cfg[f'{role}_model']
        model.data_preprocessor.size = cfg.crop_size
        model.backbone.update(depth=18, stem_channels=w, base_channels=w)
        model.decode_head.update(in_channels=8 * w, channels=2 * w)
        model.auxiliary_head.update(in_channels=4 * w, channels=w)
    cfg.img_scale = (48, 48)
    cfg.train_loader = dict(num_workers=0, persistent_workers=False)
    cfg.val_loader = dict(num_workers=0, persistent_workers=False)
    cfg.dump(str(path))


def test_gpu_driver_under_a_profile(tmp_path):
    """tools/efficacy_gpu.sh (the prepared GPU command) runs the whole
    protocol under a (tiny) profile on this CPU: its data size, its models
    for pretext, teacher and students, its labels in the table, and the
    results packed without checkpoints."""
    import subprocess
    import tarfile
    path = tmp_path / 'tiny.py'
    _tiny_profile(path)
    out, results = tmp_path / 'eff', tmp_path / 'results'
    env = dict(
        os.environ, PYTHON=sys.executable, PROFILE=str(path), WORK=str(out),
        PROTO=str(tmp_path / 'proto'), METHODS='kd', SEEDS='0', JOBS='1',
        TEACHER_ITERS='2', PRETEXT_ITERS='2', STUDENT_ITERS='2',
        EXTRA=f"--tiny --data-root {tmp_path / 'data'} --no-diagnostics")
    done = subprocess.run(
        ['bash', osp.join('tools', 'efficacy_gpu.sh'), '300', str(results)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    log = (results / 'driver.log').read_text()
    assert 'phase 2: students, 2 iterations, seeds 0' in log, log
    assert 'phase 3' not in log  # nothing ran out of time
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
    with tarfile.open(results / 'efficacy_gpu.tar.gz') as tar:
        names = tar.getnames()
    assert any(n.endswith('student2/efficacy.md') for n in names)
    assert any(n.endswith('train.log') for n in names)
    assert not any(n.endswith('.pth') for n in names)
