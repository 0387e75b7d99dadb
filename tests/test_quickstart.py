"""The quickstart: its configs, its helpers and a tiny run end to end."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config

from mmkd.apis.quickstart import (QUICKSTART_STAGES, gap_fraction,
                                  load_teacher_cache, parse_iters,
                                  quickstart_config_path, run_quickstart,
                                  set_max_iters, stage_config,
                                  teacher_cache_key)
from mmkd.datasets.synthetic_voc import synthetic_metainfo
from cfg_helpers import plain, student_recipe
from tool_helpers import load_tool

SYNTHETIC_METAINFO = synthetic_metainfo(7)  # the quickstart's 7 classes

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
RECIPE_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
               'val_evaluator', 'test_evaluator', 'optim_wrapper',
               'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
               'default_hooks', 'auto_scale_lr', 'env_cfg', 'randomness')


def load(stage):
    return Config.fromfile(quickstart_config_path(stage))


def walk_types(cfg):
    if isinstance(cfg, dict):
        if 'type' in cfg:
            yield cfg['type']
        for value in cfg.values():
            yield from walk_types(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            yield from walk_types(value)


@pytest.mark.parametrize('stage', list(QUICKSTART_STAGES))
def test_configs_use_plain_mmseg_types(stage):
    cfg = load(stage)
    assert cfg.default_scope == 'mmkd'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds = cfg[key].dataset
        # mmseg's own dataset class, so exported students load without mmkd
        assert ds.type == 'BaseSegDataset'
        assert ds.data_root == 'data/synthetic_voc/VOC2012'
        assert plain(ds.metainfo) == plain(SYNTHETIC_METAINFO)
    nets = [cfg.model] if cfg.model.type != 'SegDistiller' else [
        cfg.model.student, cfg.model.teacher
    ]
    for net in nets:
        assert net.type == 'EncoderDecoder'
        assert net.backbone.type == 'ResNetV1c'
        assert net.decode_head.type == 'ASPPHead'
        assert net.decode_head.num_classes == len(
            SYNTHETIC_METAINFO['classes'])
        assert net.pretrained is None  # nothing to download
    # Only the distiller and its parts come from mmkd: the networks are
    # plain mmseg (so an exported student loads without mmkd).
    from mmseg.registry import MODELS as MMSEG_MODELS

    from mmkd.registry import MODELS as MMKD_MODELS
    for net in nets:
        for t in walk_types(plain(net)):
            assert MMSEG_MODELS.get(t) is not None, t
    for t in walk_types(plain(cfg.model)):
        assert MMSEG_MODELS.get(t) is not None or \
            t in MMKD_MODELS.module_dict, t


def test_distillers_share_the_baseline_recipe_and_teacher():
    base = load('baseline')
    teacher = load('teacher')
    for stage in QUICKSTART_STAGES:
        if stage in ('teacher', 'baseline'):
            continue
        cfg = load(stage)
        assert cfg.model.type == 'SegDistiller'
        assert plain(cfg.model.student) == plain(base.model)
        assert plain(cfg.model.teacher) == plain(teacher.model)
        for key in RECIPE_KEYS:
            # only the distiller's own parts (e.g. a fixed connector) may
            # train differently; the student never does
            assert student_recipe(cfg, key) == plain(base.get(key)), (
                stage, key)
        # every distillation config states its loss-weight rule
        assert cfg.distill_weight_rule.grad_ratio > 0, stage
    # the checkpoint the distillation configs name is the one the teacher
    # config writes
    assert load('ickd').model.teacher_checkpoint.endswith(
        f'/iter_{teacher.train_cfg.max_iters}.pth')
    for stage, grid in (('ickd', (4, 4)), ('ickd8', (8, 8))):
        (item, ) = load(stage).model.distill
        assert item.loss.type == 'ICKDLoss'
        assert tuple(item.loss.grid_size) == grid
    kd = load('kd')
    (item, ) = kd.model.distill
    assert item.loss.type == 'KDLoss'
    assert item.student.module == 'decode_head.conv_seg'


def test_mgd_matches_on_unaugmented_training_images(tmp_path):
    """MGD's matching set is the training split without augmentation
    (never val), and the quickstart points it at its data like the
    loaders."""
    for stage in ('mgd_amp', 'mgd_rd', 'mgd_sm'):
        cfg = load(stage)
        (item, ) = cfg.model.distill
        assert item.loss.reduction == stage.split('_')[1]
        hook = cfg.custom_hooks[-1]
        assert hook.type == 'MatchingGuidedHook'
        ds = hook.dataloader.dataset
        assert ds.ann_file == cfg.train_dataloader.dataset.ann_file
        assert plain(ds.pipeline) == plain(cfg.test_pipeline)
        assert hook.dataloader.sampler.shuffle is False
    cfg = stage_config('mgd_sm', data_root=str(tmp_path), work_dir='w',
                       teacher_checkpoint='t.pth')
    assert cfg.custom_hooks[-1].dataloader.dataset.data_root == str(tmp_path)


def test_efficacy_table_methods_leave_out_the_variants_tried():
    from mmkd.apis.quickstart_config import (EFFICACY_METHODS,
                                             QUICKSTART_DISTILL_STAGES)
    assert set(EFFICACY_METHODS) == {
        'ickd', 'ickd8', 'kd', 'cwd', 'at', 'fitnets', 'ccs', 'dlkd', 'irg',
        'mgd_amp', 'mgd_rd', 'mgd_sm'}
    variants = set(QUICKSTART_DISTILL_STAGES) - set(EFFICACY_METHODS)
    assert variants == {'ickd1', 'ickd2', 'ickd_row', 'ickd_fixed',
                        'ickd_logits', 'ickd_post', 'ickd_l4', 'ickd8_2l',
                        'ccs_post', 'kd_t4', 'irg_pix', 'irg_vertex',
                        'irg_edge', 'irg_tran', 'irg_3t', 'dlkd_img',
                        'irg_r4', 'irg_bal', 'dlkd_r2', 'dlkd_r8', 'irg_pos',
                        'irg_img', 'irg_posl4', 'irg_possq',
                        'irg_poscl4', 'kd_r16'}
    for stage in variants:  # each says why it was tried
        with open(quickstart_config_path(stage)) as f:
            header = ' '.join(line.lstrip('# ').strip()
                              for line in f.read().split('_base_')[0].split(
                                  '\n'))
        assert 'Tried because' in header, stage


def test_parse_iters():
    assert parse_iters(None) == dict(scale=1.0, teacher=None, student=None,
                                     pretext=None)
    assert parse_iters('0.5x')['scale'] == 0.5
    assert parse_iters('2')['scale'] == 2.0
    assert parse_iters(3)['scale'] == 3.0
    assert parse_iters('teacher=10, student=5') == dict(
        scale=1.0, teacher=10, student=5, pretext=None)
    assert parse_iters('pretext=4')['pretext'] == 4
    assert parse_iters(dict(student=7))['student'] == 7
    for bad in ('abc', 'teacher=x', 'foo=3', '0', '-1x', 'student'):
        with pytest.raises(ValueError):
            parse_iters(bad)


def test_set_max_iters_rescales_the_schedule():
    cfg = load('baseline')
    old = cfg.train_cfg.max_iters
    cfg.param_scheduler.insert(
        0, dict(type='LinearLR', begin=0, end=old // 10, by_epoch=False))
    set_max_iters(cfg, 50)
    assert cfg.train_cfg.max_iters == 50
    assert cfg.train_cfg.val_interval == 50
    assert cfg.param_scheduler[0]['end'] == 5
    assert cfg.param_scheduler[-1].end == 50
    assert cfg.default_hooks.checkpoint.interval == 50
    assert 1 <= cfg.default_hooks.logger.interval <= 10


def test_stage_config_overrides(tmp_path):
    iters = parse_iters('teacher=7,student=3')
    cfg = stage_config('ickd', data_root=str(tmp_path), work_dir='wd',
                       iters=iters, seed=5, teacher_checkpoint='t.pth')
    assert cfg.train_cfg.max_iters == 3
    assert cfg.randomness.seed == 5
    assert cfg.model.teacher_checkpoint == 't.pth'
    assert cfg.train_dataloader.dataset.data_root == str(tmp_path)
    assert cfg.work_dir == 'wd'
    teacher = stage_config('teacher', data_root='d', work_dir='w',
                           iters=iters, seed=5)
    assert teacher.train_cfg.max_iters == 7
    assert teacher.randomness.seed == load('teacher').randomness.seed
    with pytest.raises(ValueError):
        stage_config('kd', data_root='d', work_dir='w')


def test_gap_fraction():
    assert gap_fraction(50, 40, 60) == pytest.approx(0.5)
    assert gap_fraction(35, 40, 60) == pytest.approx(-0.25)
    assert gap_fraction(60, 40, 60) == pytest.approx(1.0)
    assert gap_fraction(50, 40, 40) is None
    assert gap_fraction(50, 40, 30) is None


def test_teacher_cache_key():
    meta = dict(seed=0, img_size=64, num_train=800, stats=dict(a=1))
    cfg = stage_config('teacher', data_root='a', work_dir='w1')
    key = teacher_cache_key(cfg, meta)
    # The data root, work dir and the data statistics do not matter ...
    other = stage_config('teacher', data_root='b', work_dir='w2')
    assert teacher_cache_key(other, dict(meta, stats=None)) == key
    # ... the recipe, the model and the data request do.
    longer = stage_config('teacher', data_root='a', work_dir='w1',
                          iters=parse_iters('2x'))
    assert teacher_cache_key(longer, meta) != key
    assert teacher_cache_key(cfg, dict(meta, seed=1)) != key
    cfg.model.decode_head.channels += 1
    assert teacher_cache_key(cfg, meta) != key


def test_quickstart_default_methods_are_ickd_and_kd():
    """The quickstart shows the flagship and the classic method; the rest
    run by name (they would cost minutes of the 15-minute budget)."""
    from mmkd.apis.quickstart_config import QUICKSTART_METHODS
    assert QUICKSTART_METHODS == ('ickd', 'kd')
    tool = load_tool('quickstart')
    assert tool.parse_args([]).methods == ['ickd', 'kd']
    assert tool.parse_args(['--methods', 'ickd', 'kd', 'mgd_amp'
                            ]).methods == ['ickd', 'kd', 'mgd_amp']


def test_quickstart_rejects_zero_jobs(tmp_path):
    with pytest.raises(ValueError, match='jobs must be at least 1'):
        run_quickstart(work_dir=str(tmp_path), tiny=True, jobs=0)
    assert not os.listdir(tmp_path)  # refused before anything was written


def test_quickstart_tiny_end_to_end(tmp_path):
    """The whole pipeline (data, pretext, teacher, baseline, ICKD-S, KD,
    MGD-AMP with its matching, weight rule, table, report, caches) on a few
    images for a few iterations."""
    work_dir = str(tmp_path / 'work')
    data_root = str(tmp_path / 'data')
    lines = []
    # MGD-AMP is not a default method; by name it runs with its matching.
    result = run_quickstart(
        work_dir=work_dir, data_root=data_root, tiny=True,
        methods=('ickd', 'kd', 'mgd_amp'), log=lines.append)

    assert list(result.stages) == ['teacher', 'baseline', 'ickd', 'kd',
                                   'mgd_amp']
    for name, stage in result.stages.items():
        assert osp.isfile(stage.checkpoint), name
        assert 0 <= stage.miou <= 100
        assert stage.scalars is not None, name  # mmengine's json log
        assert stage.max_iters == 2
    assert not result.stages['teacher'].cached
    assert set(result.gaps) == {'ickd', 'kd', 'mgd_amp'}
    text = '\n'.join(lines)
    for label in ('Teacher', 'Student alone', 'ICKD-S', 'KD', 'MGD-AMP',
                  'gap closed'):
        assert label in text
    # Distillation terms were logged by the distilled runs.
    with open(result.stages['ickd'].scalars) as f:
        assert 'distill.loss_ickd' in f.read()
    with open(result.stages['mgd_amp'].scalars) as f:
        assert 'distill.loss_mgd' in f.read()
    # The weight rule set the distilled runs' weights; the students and the
    # teacher started from their pretext-pretrained backbones.
    for m in ('ickd', 'kd', 'mgd_amp'):
        rule = result.stages[m].extra['weight_rule']
        assert rule['grad_ratio'] > 0 and rule['scale'] > 0
        assert osp.isfile(osp.join(result.stages[m].work_dir,
                                   'grad_ratio.json'))
    assert 'weight rule:' in text and 'pretext' in text
    # On 2+ cores the students train two at a time, each in its own
    # process; their CKA diagnostics come back with them.
    if (os.cpu_count() or 1) >= 2:
        assert '2 at a time' in text
    for m in ('ickd', 'kd', 'mgd_amp'):
        assert set(result.stages[m].extra['cka']) == {'before', 'after'}
    for role in ('teacher', 'student'):
        assert os.listdir(osp.join(work_dir, 'pretext', role))
    # KD distils logits: what its target says beyond the labels is reported
    assert '| kd | loss_kd | 1 |' in result.diagnostics
    assert '| ickd |' not in result.diagnostics.split('Logit targets')[1]
    # per-class IoU of the teacher, the student alone and each method,
    # cached beside each checkpoint
    per_class = result.diagnostics.split('Per-class IoU on val')[1]
    assert 'over its 1 seed;' in per_class and '| teacher |' in per_class
    for label in ('student alone', 'ICKD-S 4x4', 'KD', 'MGD-AMP'):
        assert f'| {label} |' in per_class, label
    for m in ('baseline', 'ickd', 'kd', 'mgd_amp'):
        assert osp.isfile(osp.join(osp.dirname(
            result.stages[m].checkpoint), 'class_iou.json')), m

    report = osp.join(work_dir, 'report')
    for name in ('loss_curves.png', 'miou_bars.png', 'icc_heatmaps.png',
                 'predictions.png'):
        path = osp.join(report, name)
        assert osp.getsize(path) > 10_000, name
        with open(path, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    with open(osp.join(report, 'results.json')) as f:
        saved = json.load(f)
    assert [r['stage'] for r in saved['results']] == list(result.stages)
    with open(osp.join(report, 'icc_stats.json')) as f:
        icc = json.load(f)
    assert set(icc['ickd_loss']) == {'baseline', 'ickd'}

    # The teacher cache: atomically written, invalid once its key changes
    # or its checkpoint is gone.
    teacher_dir = osp.join(work_dir, 'teacher')
    with open(osp.join(teacher_dir, 'teacher_cache.json')) as f:
        key = json.load(f)['key']
    record = load_teacher_cache(teacher_dir, key)
    assert record is not None
    assert record['checkpoint'] == result.stages['teacher'].checkpoint
    assert not [f for f in os.listdir(teacher_dir) if '.tmp' in f]
    assert load_teacher_cache(teacher_dir, 'other-key') is None

    # A second run reuses the cached teacher (and only trains what it must).
    lines.clear()
    again = run_quickstart(
        work_dir=work_dir, data_root=data_root, tiny=True, methods=(),
        report=False, jobs=1, log=lines.append)
    assert again.stages['teacher'].cached
    assert again.stages['teacher'].miou == result.stages['teacher'].miou
    assert list(again.stages) == ['teacher', 'baseline']
    assert any('cached teacher' in line for line in lines)
    # jobs=1: the students train one after the other in this process.
    assert any('student alone (baseline): fine-tuning' in line
               for line in lines)
    assert any('pretext: cached backbone' in line for line in lines)

    os.remove(record['checkpoint'])
    assert load_teacher_cache(teacher_dir, key) is None
