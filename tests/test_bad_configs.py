"""Mistakes users make in distillation configs: each fails (or warns) with
one message naming the problem and the fix. docs/faults.md lists them
with the text the user sees."""
import copy

import pytest
import torch
from tiny_runs import NUM_CLASSES, tiny_distiller, tiny_seg_model

from mmkd.models.recorders.feature_recorder import StaleFeatureError
from mmkd.registry import MODELS


def ickd(**changes):
    """A valid ICKD item on the decode heads' bottlenecks (8 vs 16 ch)."""
    item = dict(name='loss_ickd', student='decode_head.bottleneck',
                teacher='decode_head.bottleneck',
                student_transforms=[dict(type='ConvBNConnector')],
                loss=dict(type='ICKDLoss', grid_size=2))
    item.update(changes)
    return item


def build(cfg):
    return MODELS.build(copy.deepcopy(cfg))


def fails(cfg, error, *parts):
    with pytest.raises(error) as info:
        build(cfg)
    message = str(info.value)
    for part in parts:
        assert part in message, message
    return message


def test_the_valid_item_builds():
    build(tiny_distiller([ickd()]))


def test_unknown_layer():
    fails(tiny_distiller([ickd(student='decode_head.bottlenek')]), KeyError,
          "student has no module named 'decode_head.bottlenek'",
          'Closest valid names: decode_head.bottleneck',
          'tools/inspect_layers.py')


def test_channel_mismatch_without_connector():
    fails(tiny_distiller([ickd(student_transforms=[])]), ValueError,
          'channels differ (8 vs 16)',
          "add student_transforms=[dict(type='ConvBNConnector')]")


def test_spatial_mismatch_without_resize():
    item = ickd(student='backbone.layer1', teacher='backbone.layer4')
    fails(tiny_distiller([item]), ValueError, 'spatial sizes differ',
          "add dict(type='Resize') to the end of student_transforms")


def test_teacher_checkpoint_that_does_not_fit(tmp_path):
    other = build(tiny_seg_model(4, 8))  # narrower than the teacher
    path = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=other.state_dict()), path)
    fails(tiny_distiller(teacher_checkpoint=path), RuntimeError,
          f'teacher checkpoint {path} does not match the teacher config',
          'shape mismatches', 'teacher_strict=False')


def test_missing_teacher_checkpoint_file(tmp_path):
    path = str(tmp_path / 'no_such_teacher.pth')
    fails(tiny_distiller(teacher_checkpoint=path), FileNotFoundError,
          path, 'model.teacher_checkpoint=')


def test_item_name_without_loss():
    fails(tiny_distiller([ickd(name='ickd')]), ValueError,
          "distill item name 'ickd' must be a str containing 'loss'",
          "'loss_ickd'")


def test_unknown_loss_option():
    item = ickd(loss=dict(type='ICKDLoss', gird_size=2))
    fails(tiny_distiller([item]), TypeError,
          "ICKDLoss has no option 'gird_size' (did you mean 'grid_size'",
          'its options are grid_size, normalize')


def test_unknown_loss_type():
    fails(tiny_distiller([ickd(loss=dict(type='ICKD'))]), KeyError,
          "unknown loss type 'ICKD' (did you mean 'ICKDLoss'?)",
          "mmkd's distillation losses: ATLoss")


def test_unknown_transform():
    item = ickd(student_transforms=[dict(type='ConvBnConnector')])
    fails(tiny_distiller([item]), KeyError,
          "unknown student transform 'ConvBnConnector'",
          'mmkd has ConvBNConnector')


def test_old_schema_keys():
    item = dict(name='loss_ickd', student_feature='decode_head.bottleneck',
                teacher_feature='decode_head.bottleneck',
                connector=dict(type='ConvBNConnector'),
                loss=dict(type='ICKDLoss'))
    fails(tiny_distiller([item]), ValueError,
          'uses keys of the old schema', 'student_feature -> student=')


def test_grid_larger_than_the_feature_map(make_batch):
    distiller = build(tiny_distiller([ickd(
        loss=dict(type='ICKDLoss', grid_size=8))]))
    with pytest.raises(ValueError) as info:
        distiller.loss(*make_batch(2, 32, NUM_CLASSES))
    assert 'grid_size (8, 8) needs a map of at least 8 x 8 pixels but ' \
        'the features are 4 x 4; use a grid of at most (4, 4)' in \
        str(info.value)


def test_relation_loss_with_batch_1_warns(make_batch, monkeypatch):
    messages = []
    monkeypatch.setattr('mmkd.models.distillers.distill_item.print_log',
                        lambda msg, **kwargs: messages.append(msg))
    item = dict(name='loss_irg_edge', student='decode_head.bottleneck',
                teacher='decode_head.bottleneck',
                loss=dict(type='IRGEdgeLoss'))
    # eval: the tiny ASPP's image-pool BN cannot train on one 1x1 sample
    distiller = build(tiny_distiller([item])).eval()
    losses = distiller.loss(*make_batch(1, 32, NUM_CLASSES))
    assert losses['distill.loss_irg_edge'].item() == 0  # documented
    (message, ) = messages
    assert "IRGEdgeLoss compares the samples of a batch, but the global " \
        'batch has 1 sample, so the term is 0' in message
    assert 'train_dataloader.batch_size to 2 or more' in message
    distiller.loss(*make_batch(1, 32, NUM_CLASSES))
    assert len(messages) == 1  # once


def test_batch_below_the_loss_min_batch(make_batch, monkeypatch):
    distiller = build(tiny_distiller([ickd()]))
    monkeypatch.setattr(distiller.distill_items[0].loss, 'min_batch', 4)
    with pytest.raises(ValueError, match='ICKDLoss needs a batch of at '
                       'least 4 samples over all processes, got 2'):
        distiller.loss(*make_batch(2, 32, NUM_CLASSES))


def test_classification_teacher_for_a_segmentation_student():
    teacher = dict(type='TorchvisionClassifier', num_classes=NUM_CLASSES,
                   arch=dict(block='BasicBlock', layers=[1, 1, 1, 1],
                             width=8))
    fails(dict(tiny_distiller(), teacher=teacher), TypeError,
          'the teacher (TorchvisionClassifier) is not an mmseg segmentor',
          'use ClsDistiller for classifiers')


def test_tuple_output_without_index():
    fails(tiny_distiller([ickd(student='backbone', teacher='backbone')]),
          RuntimeError, 'backbone (output) captured a tuple of 4 elements',
          'set `index` in the feature spec')


def test_module_that_does_not_run():
    item = ickd(teacher='auxiliary_head.conv_seg')
    fails(tiny_distiller([item]), RuntimeError,
          "teacher module 'auxiliary_head.conv_seg' did not run",
          "Pick a module that the model's inference (tensor-mode) forward")


def test_clone_false_on_a_feature_modified_in_place():
    spec = dict(module='backbone.layer1.0.bn2', clone=False)
    with pytest.raises(StaleFeatureError) as info:
        build(tiny_distiller([ickd(student=spec, teacher=spec)]))
    assert 'was modified in place after it was captured' in str(info.value)
    assert 'Set clone=True' in str(info.value)


def test_teacher_pads_differently():
    cfg = tiny_distiller()
    cfg['teacher']['data_preprocessor']['size'] = (64, 64)
    fails(cfg, ValueError, 'the teacher data_preprocessor pads with '
          'size=(64, 64)', 'make them equal')
