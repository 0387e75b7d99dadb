"""configs/extend/: the SegFormer MiT-B0 <- DeepLabV3-R101 config of
docs/extending.md builds, matches what tools/inspect_layers.py proposes,
and trains for a few iterations (widths shrunk through cfg options)."""
import copy
import math
from pathlib import Path

import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from tiny_runs import logged_scalars, make_data, runtime, unique_name

from mmkd.analysis import (build_for_inspection, inspect_model,
                           model_configs, pair_layers, propose)
from mmkd.utils.tool_utils import strip_pretrained

CONFIG = str(
    Path(__file__).resolve().parents[1] / 'configs' / 'extend' /
    'segformer-mit-b0_ickd-cwd_deeplabv3-r101_voc12aug-512x512_40k.py')
SIZE = 64
# What a user would pass as --cfg-options to try the config on a laptop:
# MiT at width 8 with one block per stage, ResNetV1c-18 at width 8.
TINY = {
    'model.teacher_checkpoint': None,
    'model.data_preprocessor.size': (SIZE, SIZE),
    'model.student.data_preprocessor.size': (SIZE, SIZE),
    'model.teacher.data_preprocessor.size': (SIZE, SIZE),
    'model.student.backbone.embed_dims': 8,
    'model.student.backbone.num_layers': [1, 1, 1, 1],
    'model.student.backbone.mlp_ratio': 2,
    'model.student.decode_head.in_channels': [8, 16, 40, 64],
    'model.student.decode_head.channels': 16,
    'model.teacher.backbone.depth': 18,
    'model.teacher.backbone.stem_channels': 8,
    'model.teacher.backbone.base_channels': 8,
    'model.teacher.decode_head.in_channels': 64,
    'model.teacher.decode_head.channels': 32,
    'model.teacher.auxiliary_head.in_channels': 32,
    'model.teacher.auxiliary_head.channels': 8,
    'model.probe_input_shape': (2, 3, SIZE, SIZE),
}


def tiny_config():
    cfg = Config.fromfile(CONFIG)
    cfg.merge_from_dict(TINY)
    strip_pretrained(cfg.model)  # no ImageNet MiT-B0 download
    return cfg


def test_config_is_short_and_distils_two_items():
    code = [line for line in Path(CONFIG).read_text().splitlines()
            if line.strip() and not line.lstrip().startswith('#')]
    assert len(code) <= 32  # 6 of them list the _base_ files
    cfg = Config.fromfile(CONFIG)
    assert cfg.model.student.backbone.type == 'MixVisionTransformer'
    assert cfg.model.teacher.backbone.depth == 101
    assert [i.name for i in cfg.model.distill] == ['loss_ickd', 'loss_cwd']
    assert [h.type for h in cfg.custom_hooks] == [
        'NonFiniteLossHook', 'ExactResumeHook', 'TeacherEvalHook']


def test_items_are_what_inspect_layers_proposes():
    cfg = tiny_config()
    found = {
        label: inspect_model(build_for_inspection(model_cfg), (SIZE, SIZE),
                             label)
        for label, model_cfg in model_configs(cfg).items()
    }
    pairs = pair_layers(found['teacher'], found['student'])
    (ickd, ), _, _ = propose('ickd', pairs)
    (cwd, ), _, _ = propose('cwd', pairs)
    item_ickd, item_cwd = cfg.model.distill
    for item, proposed in ((item_ickd, ickd), (item_cwd, cwd)):
        assert (item.student, item.teacher) == (proposed['student'],
                                                proposed['teacher'])
        assert [t['type'] for t in item.student_transforms] == [
            t['type'] for t in proposed['student_transforms']]
        assert item.loss.type == proposed['loss']['type']


@pytest.fixture(autouse=True)
def _deterministic_off():
    yield
    import torch
    torch.use_deterministic_algorithms(False)


def test_trains_a_few_iterations(tmp_path):
    cfg = tiny_config()
    data_root = make_data(str(tmp_path / 'data'))
    rt = runtime(data_root, max_iters=2, checkpoint_interval=2,
                 deterministic=False)
    rt['train_dataloader']['dataset']['pipeline'][2]['crop_size'] = (
        SIZE, SIZE)
    for key in ('train_dataloader', 'default_hooks', 'param_scheduler',
                'train_cfg', 'randomness', 'log_processor', 'env_cfg'):
        cfg[key] = copy.deepcopy(rt[key])
    for key in ('val', 'test'):
        for part in ('dataloader', 'cfg', 'evaluator'):
            cfg[f'{key}_{part}'] = None
    cfg.visualizer = rt['visualizer']
    cfg.work_dir = str(tmp_path / 'work')
    cfg.experiment_name = unique_name('extend')
    Runner.from_cfg(cfg).train()
    logged = logged_scalars(cfg.work_dir)
    assert sorted(logged) == [1, 2]
    for record in logged.values():
        for key in ('decode.loss_ce', 'distill.loss_ickd', 'distill.loss_cwd'):
            assert math.isfinite(record[key]), (key, record)
