import copy
import gc

import pytest
import torch
from mmengine.optim import OptimWrapper

from mmkd.registry import MODELS

HEAD_INPUT = dict(module='decode_head.conv_seg', source='input')


CONNECT = [dict(type='ConvBNConnector'), dict(type='Resize')]


def ickd_item(**overrides):
    item = dict(
        name='loss_ickd',
        student=HEAD_INPUT,
        teacher=HEAD_INPUT,
        student_transforms=CONNECT,
        loss=dict(type='ICKDLoss', grid_size=(2, 2), loss_weight=1.0))
    item.update(overrides)
    return item


def build(student_cfg, teacher_cfg, distill, **kwargs):
    return MODELS.build(
        dict(
            type='SegDistiller',
            student=student_cfg,
            teacher=teacher_cfg,
            distill=distill,
            probe_input_shape=(2, 3, 32, 32),
            **kwargs))


def uint8_batch(make_batch, batch_size=2, size=32):
    _, samples = make_batch(batch_size=batch_size, size=size)
    gen = torch.Generator().manual_seed(1)
    images = [
        torch.randint(0, 256, (3, size, size), generator=gen,
                      dtype=torch.uint8) for _ in range(batch_size)
    ]
    return dict(inputs=images, data_samples=samples)


def test_train_step_updates_student_and_connector_only(
        student_cfg, teacher_cfg, make_batch):
    model = build(student_cfg, teacher_cfg, [ickd_item()])
    model.train()
    assert not model.teacher.training and model.student.training
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    student_before = copy.deepcopy(model.student.state_dict())
    connector = model.distill_items[0].student_transforms[0][0].conv.conv
    connector = connector.weight
    connector_before = connector.detach().clone()
    optim = OptimWrapper(
        torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad], lr=0.1))

    log_vars = model.train_step(uint8_batch(make_batch), optim)

    assert {'decode.loss_ce', 'aux.loss_ce', 'distill.loss_ickd',
            'loss'} <= set(log_vars)
    # Teacher: weights and BN statistics unchanged, no grads, eval mode.
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key
    assert all(p.grad is None and not p.requires_grad
               for p in model.teacher.parameters())
    assert not model.teacher.training
    # Student and connector were updated.
    stem = 'backbone.stem.0.weight'
    assert not torch.equal(model.student.state_dict()[stem],
                           student_before[stem])
    bn_stats = 'backbone.layer1.0.bn1.running_mean'
    assert not torch.equal(model.student.state_dict()[bn_stats],
                           student_before[bn_stats])
    assert not torch.equal(connector, connector_before)


def test_distill_loss_gradient_reaches_student_backbone(
        student_cfg, teacher_cfg, make_batch):
    model = build(student_cfg, teacher_cfg, [ickd_item()])
    model.train()
    inputs, samples = make_batch()
    losses = model.loss(inputs, samples)
    losses['distill.loss_ickd'].backward()
    assert model.student.backbone.stem[0].weight.grad.abs().sum() > 0
    assert model.student.decode_head.conv_seg.weight.grad is None


def test_hooks_capture_intended_tensors(student_cfg, teacher_cfg):
    model = build(student_cfg, teacher_cfg, [
        ickd_item(),
        ickd_item(
            name='loss_stage4',
            student=dict(module='backbone', index=3),
            teacher=dict(module='backbone', index=3))
    ])
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    model.teacher_forward(x)
    teacher = model.teacher
    with torch.no_grad():
        feats = teacher.extract_feat(x)
        head_feat = teacher.decode_head._forward_feature(feats)
    rec = model.teacher_recorder
    torch.testing.assert_close(rec.get(dict(module='backbone', index=3)),
                               feats[3])
    torch.testing.assert_close(rec.get(HEAD_INPUT), head_feat)
    assert rec.get(HEAD_INPUT).shape[1] == 32


def test_forward_modes_use_student_unless_told(student_cfg, teacher_cfg):
    model = build(student_cfg, teacher_cfg, [ickd_item()]).eval()
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model(x), model.student._forward(x))
        with model.predicting_with('teacher'):
            torch.testing.assert_close(model(x), model.teacher._forward(x))
        torch.testing.assert_close(model(x), model.student._forward(x))
    with pytest.raises(ValueError, match='invalid mode'):
        model(x, mode='export')


def test_unknown_layer_lists_close_matches(student_cfg, teacher_cfg):
    with pytest.raises(KeyError, match=r"student has no module named "
                       r"'backbone.layr4'.*backbone.layer4"):
        build(student_cfg, teacher_cfg,
              [ickd_item(student='backbone.layr4')])


def test_channel_mismatch_without_connector_names_both_shapes(
        student_cfg, teacher_cfg):
    with pytest.raises(ValueError) as err:
        build(student_cfg, teacher_cfg, [ickd_item(student_transforms=[])])
    msg = str(err.value)
    assert '(2, 16, 4, 4)' in msg and '(2, 32, 4, 4)' in msg
    assert 'ConvBNConnector' in msg


def test_connector_channel_conflict(student_cfg, teacher_cfg):
    with pytest.raises(ValueError,
                       match='sets out_channels=7, but the probed shapes say '
                       '32'):
        build(student_cfg, teacher_cfg, [
            ickd_item(student_transforms=[
                dict(type='ConvBNConnector', out_channels=7)])
        ])


def test_spatial_mismatch_resized_or_refused(student_cfg, teacher_cfg,
                                             make_batch):
    item = ickd_item(
        name='loss_fit',
        student='backbone.layer1',  # 8x8 at 32x32 input
        teacher='backbone.layer4',  # 4x4
        loss=dict(type='FitNetsLoss'))
    model = build(student_cfg, teacher_cfg, [item])
    inputs, samples = make_batch()
    assert torch.isfinite(model.loss(inputs, samples)['distill.loss_fit'])
    with pytest.raises(ValueError, match=r"spatial sizes differ.*'Resize'"):
        build(student_cfg, teacher_cfg, [
            dict(item, student_transforms=[dict(type='ConvBNConnector')])
        ])


def test_item_validation(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match="containing 'loss'"):
        build(student_cfg, teacher_cfg, [ickd_item(name='ickd')])
    with pytest.raises(ValueError, match='duplicate'):
        build(student_cfg, teacher_cfg, [ickd_item(), ickd_item()])
    with pytest.raises(ValueError, match=r"unknown keys \['layer'\]"):
        build(student_cfg, teacher_cfg, [ickd_item(layer='x')])
    # the old schema is refused with the replacement named
    with pytest.raises(ValueError, match=r'student_feature -> student='):
        build(student_cfg, teacher_cfg, [
            dict(name='loss_x', student_feature='backbone',
                 teacher_feature='backbone', loss=dict(type='FitNetsLoss'))
        ])


def test_kd_item_receives_labels(student_cfg, teacher_cfg, make_batch):
    kd = dict(
        name='loss_kd',
        student='decode_head.conv_seg',
        teacher='decode_head.conv_seg',
        loss=dict(type='KDLoss', tau=2.0))
    model = build(student_cfg, teacher_cfg, [kd])
    inputs, samples = make_batch()
    loss = model.loss(inputs, samples)['distill.loss_kd']
    assert torch.isfinite(loss) and loss > 0


def test_teacher_checkpoint_loaded_and_kept_by_init_weights(
        student_cfg, teacher_cfg, tmp_path):
    source = MODELS.build(copy.deepcopy(teacher_cfg))
    with torch.no_grad():
        for p in source.parameters():
            p.uniform_(-1, 1)
    ckpt = tmp_path / 'teacher.pth'
    torch.save({'state_dict': source.state_dict(), 'meta': {}}, ckpt)

    model = build(student_cfg, teacher_cfg, [ickd_item()],
                  teacher_checkpoint=str(ckpt))
    model.init_weights()
    for key, value in source.state_dict().items():
        assert torch.equal(model.teacher.state_dict()[key], value), key


def test_mismatched_teacher_checkpoint(student_cfg, teacher_cfg, tmp_path):
    wrong = MODELS.build(copy.deepcopy(student_cfg))  # narrower network
    ckpt = tmp_path / 'wrong.pth'
    torch.save({'state_dict': wrong.state_dict()}, ckpt)
    with pytest.raises(RuntimeError, match='does not match the teacher'):
        build(student_cfg, teacher_cfg, [], teacher_checkpoint=str(ckpt))


def test_missing_teacher_checkpoint(student_cfg, teacher_cfg, tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere.pth'):
        build(student_cfg, teacher_cfg, [],
              teacher_checkpoint=str(tmp_path / 'nowhere.pth'))


def test_hooks_removed_on_teardown(student_cfg, teacher_cfg):
    model = build(student_cfg, teacher_cfg, [ickd_item()])
    conv_seg = model.student.decode_head.conv_seg
    teacher_conv_seg = model.teacher.decode_head.conv_seg
    assert len(conv_seg._forward_pre_hooks) == 1  # inputs: pre-hooks
    model.remove_hooks()
    assert not conv_seg._forward_pre_hooks
    assert not teacher_conv_seg._forward_pre_hooks

    model = build(student_cfg, teacher_cfg, [ickd_item()])
    conv_seg = model.student.decode_head.conv_seg
    assert len(conv_seg._forward_pre_hooks) == 1
    del model
    gc.collect()
    assert not conv_seg._forward_pre_hooks


@pytest.mark.parametrize('fast_path', [
    dict(channels_last=True),
    dict(autocast='bf16'),
    dict(compile=dict(backend='eager')),
])
def test_teacher_fast_path_matches_plain_teacher(student_cfg, teacher_cfg,
                                                 make_batch, fast_path):
    torch.manual_seed(0)
    plain = build(student_cfg, teacher_cfg, [ickd_item()],
                  teacher_fast_path=dict(channels_last=False)).eval()
    fast = build(student_cfg, teacher_cfg, [ickd_item()],
                 teacher_fast_path=fast_path).eval()
    fast.load_state_dict(plain.state_dict())
    inputs, samples = make_batch()
    with torch.no_grad():
        expected = plain.loss(inputs, samples)['distill.loss_ickd']
        fast.teacher_forward(inputs)
        captured = fast.teacher_recorder.get(HEAD_INPUT)
        got = fast.loss(inputs, samples)['distill.loss_ickd']
    if 'autocast' in fast_path:
        assert captured.dtype == torch.bfloat16  # the teacher ran in bf16
        torch.testing.assert_close(got, expected, rtol=0.1, atol=1e-3)
    else:
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    assert got.dtype == torch.float32


def test_teacher_fast_path_defaults(student_cfg, teacher_cfg):

    def first_conv_weight(net):
        return next(m for m in net.modules()
                    if isinstance(m, torch.nn.Conv2d)).weight

    model = build(student_cfg, teacher_cfg, [ickd_item()])
    assert first_conv_weight(model.teacher).is_contiguous(
        memory_format=torch.channels_last)
    assert model._fast_path.autocast is None
    # options given update the defaults; channels_last can be turned off
    model = build(student_cfg, teacher_cfg, [ickd_item()],
                  teacher_fast_path=dict(channels_last=False))
    assert not first_conv_weight(model.teacher).is_contiguous(
        memory_format=torch.channels_last)
    # the student is never touched
    assert first_conv_weight(model.student).is_contiguous()


def test_teacher_fast_path_rejects_bad_options(student_cfg, teacher_cfg):
    with pytest.raises(ValueError, match="autocast must be None, 'bf16'"):
        build(student_cfg, teacher_cfg, [],
              teacher_fast_path=dict(autocast='int8'))
    with pytest.raises(ValueError, match=r"unknown options \['amp'\]"):
        build(student_cfg, teacher_cfg, [], teacher_fast_path=dict(amp=True))


def test_exposes_the_predicting_segmentors_attributes(student_cfg,
                                                      teacher_cfg):
    model = build(student_cfg, teacher_cfg, [ickd_item()])
    assert model.out_channels == model.student.out_channels == 5
    assert model.num_classes == 5 and model.align_corners is False
    assert model.decode_head is model.student.decode_head
    with model.predicting_with('teacher'):
        assert model.decode_head is model.teacher.decode_head
