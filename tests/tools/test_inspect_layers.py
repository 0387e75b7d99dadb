"""tools/inspect_layers.py and mmkd.analysis: candidates with shapes and
in-place flags, teacher/student role pairs, proposed distill items that
build and train."""
import copy
import math

import pytest
from mmengine.config import Config
from tool_helpers import load_tool
from tiny_runs import (CROP, NUM_CLASSES, tiny_distiller, tiny_seg_model,
                       tiny_segformer)

from mmkd.analysis import (METHODS, build_for_inspection, format_proposal,
                           input_size, inspect_model, pair_layers, propose)
from mmkd.registry import MODELS


def tool():
    return load_tool('inspect_layers')


def dump(tmp_path, cfg, name='cfg.py'):
    path = str(tmp_path / name)
    Config(copy.deepcopy(cfg)).dump(path)
    return path


@pytest.fixture(scope='module')
def layers():
    teacher = inspect_model(build_for_inspection(tiny_seg_model(8, 16)),
                            (CROP, CROP), 'teacher')
    student = inspect_model(build_for_inspection(tiny_segformer()),
                            (CROP, CROP), 'student')
    return teacher, student, pair_layers(teacher, student)


def test_roles_and_what_pairs_need(layers):
    teacher, student, pairs = layers
    by_role = {p.role: p for p in pairs}
    assert list(by_role) == ['stage1', 'stage2', 'stage3', 'stage4',
                             'feature', 'logits']
    # ResNet stages by module name; MiT stages are elements of its output
    assert by_role['stage4'].teacher.spec == 'backbone.layer4'
    assert by_role['stage4'].student.spec == dict(module='backbone', index=3)
    assert by_role['feature'].teacher.spec == 'decode_head.bottleneck'
    assert by_role['feature'].student.spec == 'decode_head.fusion_conv'
    assert by_role['logits'].student.shape == (1, NUM_CLASSES, 8, 8)
    assert by_role['logits'].teacher.shape == (1, NUM_CLASSES, 4, 4)
    assert by_role['stage1'].needs == '-'
    assert by_role['stage3'].needs == 'connector + resize'  # 40 vs 32 ch
    assert by_role['logits'].needs == 'resize'
    assert 'auxiliary_head' in teacher.not_run


def test_inplace_ops_are_flagged_by_the_recorder():
    cls = dict(type='TorchvisionClassifier', num_classes=NUM_CLASSES,
               arch=dict(block='BasicBlock', layers=[1, 1, 1, 1], width=8))
    found = inspect_model(build_for_inspection(cls), (32, 32), 'model')
    rows = {c.name: c for c in found.candidates}
    assert rows['bn1'].inplace_after  # ReLU(inplace=True) follows
    assert not rows['conv1'].inplace_after and not rows['layer4'].inplace_after
    assert rows['relu'].same_as == 'bn1'
    assert found.role('logits').name == 'fc'
    assert found.role('feature').spec == dict(module='fc', source='input')
    seg = inspect_model(build_for_inspection(tiny_seg_model()), (32, 32),
                        depth=3)
    rows = {c.name: c for c in seg.candidates}
    assert rows['backbone.layer1.0.bn2'].inplace_after  # out += identity
    assert not rows['backbone.layer1.0'].inplace_after


@pytest.mark.parametrize('method', METHODS)
def test_proposals_build_and_train(layers, method, make_batch):
    _, _, pairs = layers
    items, extra, notes = propose(method, pairs, 'seg')
    text = format_proposal(method, items, extra, notes)
    scope = {}
    exec(text, scope)  # the printed config text is valid and complete
    assert scope['model']['distill'] == items
    assert all(len(line) <= 79 for line in text.splitlines()), text
    cfg = tiny_distiller(items)
    cfg['student'] = tiny_segformer()
    distiller = MODELS.build(cfg)
    losses = distiller.loss(*make_batch(2, CROP, NUM_CLASSES))
    names = [f'distill.{item["name"]}' for item in items]
    for name in names:
        assert math.isfinite(losses[name].item()), name


def test_cli_side_by_side_and_pairs(tmp_path, capsys):
    cfg = dict(model=dict(tiny_distiller(), student=tiny_segformer()))
    assert tool().main([dump(tmp_path, cfg), '--pairs', 'ickd']) == 0
    out = capsys.readouterr().out
    assert out.startswith('input: 32 x 32 (model.data_preprocessor.size)')
    row = next(line for line in out.splitlines()
               if line.startswith('feature '))
    teacher, student, needs = row.split(' | ')
    assert 'decode_head.bottleneck' in teacher and '16x4x4' in teacher
    assert 'decode_head.fusion_conv' in student and '16x8x8' in student
    assert needs == 'resize'
    assert "student='decode_head.fusion_conv'" in out
    assert "loss=dict(type='ICKDLoss'" in out


def test_cli_plain_config_and_size(tmp_path, capsys):
    path = dump(tmp_path, dict(model=tiny_seg_model()))
    assert tool().main([path, '--size', '48']) == 0
    out = capsys.readouterr().out
    assert out.startswith('input: 48 x 48 (--size)')
    assert 'logits  decode_head.conv_seg' in out and '4x6x6' in out
    assert tool().main([path, '--pairs', 'kd']) == 2


def test_input_size_from_the_train_crop():
    model = tiny_seg_model()
    model['data_preprocessor'].pop('size')
    pipeline = [dict(type='LoadImageFromFile'),
                dict(type='RandomCrop', crop_size=(24, 40))]
    cfg = Config(dict(model=model, train_dataloader=dict(dataset=dict(
        type='ConcatDataset', datasets=[dict(pipeline=pipeline)]))))
    assert input_size(cfg) == ((24, 40), 'train pipeline RandomCrop.crop_size')
    assert input_size(Config(dict(model=model)))[0] == (512, 512)


def test_unknown_method(layers):
    with pytest.raises(ValueError, match='unknown method'):
        propose('fitnet', layers[2])
