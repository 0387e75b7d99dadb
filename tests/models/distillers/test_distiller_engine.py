"""Engine-v2 behaviour of the distiller, on tiny mmseg segmentors."""
import copy

import pytest
import torch
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from torch import nn

from mmkd.models.losses.base import DistillLoss
from mmkd.registry import MODELS

RECEIVED = []


@MODELS.register_module(force=True)
class SpyLoss(DistillLoss):
    """Records what the engine hands it; owns a parameter and a buffer."""
    accepts_multiple = True
    requires_equal_channels = False
    supports_valid_mask = True

    def __init__(self, want_target=False, **kwargs):
        super().__init__(**kwargs)
        self.requires_target = want_target

    def setup(self, context):
        self.context = context
        c = context.student_shapes[0][1]
        self.scale = nn.Parameter(torch.ones(c))
        self.register_buffer('calls', torch.zeros((), dtype=torch.long))

    def compute(self, student, teacher, **kwargs):
        RECEIVED.append((student, teacher, kwargs))
        self.calls += 1
        s = student[0] if isinstance(student, tuple) else student
        shape = (1, -1) + (1, ) * (s.dim() - 2)
        return (s * self.scale.view(shape)).pow(2).mean()


def build(student_cfg, teacher_cfg, distill, **kwargs):
    return MODELS.build(
        dict(
            type='SegDistiller',
            student=student_cfg,
            teacher=teacher_cfg,
            distill=distill,
            probe_input_shape=(2, 3, 32, 32),
            **kwargs))


def spy(name='loss_spy', student='backbone.layer4', teacher='backbone.layer4',
        **loss):
    return dict(name=name, student=student, teacher=teacher,
                loss=dict(type='SpyLoss', **loss))


def test_teacher_gets_no_gradient_even_if_unfrozen(student_cfg, teacher_cfg,
                                                   make_batch):
    model = build(student_cfg, teacher_cfg, [
        dict(name='loss_fit', student='backbone.layer4',
             teacher='backbone.layer4',
             student_transforms=[dict(type='ConvBNConnector')],
             loss=dict(type='FitNetsLoss'))
    ])
    model.teacher.requires_grad_(True)  # a user unfreezes it by mistake
    losses = model.loss(*make_batch())
    losses['distill.loss_fit'].backward()
    assert all(p.grad is None for p in model.teacher.parameters())
    assert model.student.backbone.stem[0].weight.grad.abs().sum() > 0


def test_lists_of_specs_and_transforms_per_feature(student_cfg, teacher_cfg,
                                                   make_batch):
    RECEIVED.clear()
    item = spy(student=['backbone.layer3', 'backbone.layer4'],
               teacher='backbone.layer4')
    item['student_transforms'] = [dict(type='GlobalAvgPool'),
                                  dict(type='MLPProjector', hidden_dim=8)]
    item['teacher_transforms'] = [dict(type='GlobalAvgPool')]
    model = build(student_cfg, teacher_cfg, [item])
    chains = model.distill_items[0].student_transforms
    assert len(chains) == 2 and chains[0][1] is not chains[1][1]
    assert chains[0][1].in_dim == 32 and chains[1][1].in_dim == 64
    assert chains[0][1].out_dim == chains[1][1].out_dim == 128
    ctx = model.distill_items[0].loss.context
    assert [tuple(s) for s in ctx.student_shapes] == [(2, 128), (2, 128)]
    assert [tuple(s) for s in ctx.student_raw_shapes] == [(2, 32, 4, 4),
                                                          (2, 64, 4, 4)]
    assert ctx.teacher_modules[0] is model.teacher.backbone.layer4
    model.train()
    model.loss(*make_batch())
    student, teacher, kwargs = RECEIVED[-1]
    assert isinstance(student, tuple) and len(student) == 2
    assert student[0].shape == (2, 128) and teacher.shape == (2, 128)
    assert kwargs == {}


def test_loss_state_trains_checkpoints_and_is_not_exported(
        student_cfg, teacher_cfg, make_batch):
    model = build(student_cfg, teacher_cfg, [spy()])
    keys = model.state_dict().keys()
    assert 'distill_items.0.loss.scale' in keys
    assert 'distill_items.0.loss.calls' in keys
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.5))
    inputs, samples = make_batch()
    model.train_step(dict(inputs=list(inputs), data_samples=samples), optim)
    loss = model.distill_items[0].loss
    assert not torch.equal(loss.scale, torch.ones_like(loss.scale))
    assert loss.calls.item() == 1
    twin = build(student_cfg, teacher_cfg, [spy()])
    twin.load_state_dict(model.state_dict())
    torch.testing.assert_close(twin.distill_items[0].loss.scale, loss.scale)
    assert twin.distill_items[0].loss.calls.item() == 1
    assert not [k for k in keys if k.startswith(model.student_state_prefix)
                and 'loss' in k.split('.')[1:2]]


def test_target_and_valid_mask_only_when_declared(student_cfg, teacher_cfg,
                                                  make_batch):
    RECEIVED.clear()
    model = build(student_cfg, teacher_cfg, [
        spy('loss_a'),
        spy('loss_b', want_target=True, mask_invalid=True),
    ])
    inputs, samples = make_batch()
    model.loss(inputs, samples)
    (_, _, kw_a), (s_b, t_b, kw_b) = RECEIVED[-2:]
    assert kw_a == {}
    assert set(kw_b) == {'target'}  # valid_mask is applied by the base
    target = torch.stack([d.gt_sem_seg.data[0] for d in samples])
    torch.testing.assert_close(kw_b['target'], target)
    # rows 0-1 of the 32x32 labels are 255: the 4x4 map's row 0 is masked
    assert s_b[:, :, 0].abs().sum() == 0 and t_b[:, :, 0].abs().sum() == 0
    assert s_b[:, :, 1:].abs().sum() > 0


def test_extract_returns_features_without_losses(student_cfg, teacher_cfg):
    model = build(student_cfg, teacher_cfg, [
        dict(name='loss_fit', student='backbone.layer4',
             teacher='backbone.layer4',
             student_transforms=[dict(type='ConvBNConnector')],
             loss=dict(type='FitNetsLoss'))
    ]).eval()
    x = torch.randn(2, 3, 32, 32)
    s, t = model.extract(x)
    with torch.no_grad():
        torch.testing.assert_close(s['loss_fit'],
                                   model.student.extract_feat(x)[3])
        torch.testing.assert_close(t['loss_fit'],
                                   model.teacher.extract_feat(x)[3])
    s2, _ = model.extract(x, transformed=True)
    assert s2['loss_fit'].shape[1] == t['loss_fit'].shape[1] == 128
    assert not s2['loss_fit'].requires_grad


def test_inplace_modified_features_are_cloned_by_the_probe(
        student_cfg, teacher_cfg):
    bn2 = 'backbone.layer1.0.bn2'  # then `+= identity`, then in-place ReLU
    model = build(student_cfg, teacher_cfg,
                  [spy(student=bn2, teacher=bn2), spy('loss_l4')])
    assert model.student_recorder.clones(bn2)
    assert model.teacher_recorder.clones(bn2)
    # nothing modifies a stage output in place: no copy is paid for it
    assert not model.student_recorder.clones('backbone.layer4')
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    block = model.teacher.backbone.layer1[0]
    with torch.no_grad():
        stem = model.teacher.backbone.maxpool(model.teacher.backbone.stem(x))
        expected = block.bn2(block.conv2(block.relu(block.bn1(
            block.conv1(stem)))))
    _, t = model.extract(x)
    assert expected.min() < 0
    torch.testing.assert_close(t['loss_spy'], expected)


def test_deepcopy_of_the_distiller_records_into_its_own_storage(
        student_cfg, teacher_cfg, make_batch):
    model = build(student_cfg, teacher_cfg, [spy()])
    ema = copy.deepcopy(model)
    inputs, samples = make_batch()
    with torch.no_grad():
        for p in ema.student.parameters():
            p.add_(0.5)
    losses = ema.loss(inputs, samples)
    losses_orig = model.loss(inputs, samples)
    assert not torch.allclose(losses['distill.loss_spy'],
                              losses_orig['distill.loss_spy'])
    s, _ = ema.extract(inputs)
    with torch.no_grad():
        torch.testing.assert_close(s['loss_spy'],
                                   ema.student.extract_feat(inputs)[3])


def test_syncbn_reverted_modules_are_rehooked(student_cfg, teacher_cfg,
                                              make_batch):
    cfg = copy.deepcopy(student_cfg)
    cfg['backbone']['norm_cfg'] = dict(type='SyncBN', requires_grad=True)
    cfg['decode_head']['norm_cfg'] = dict(type='SyncBN', requires_grad=True)
    bn = 'decode_head.bottleneck.bn'
    model = build(cfg, teacher_cfg,
                  [spy(student=bn, teacher='backbone.layer4')])
    model = revert_sync_batchnorm(model)
    assert not isinstance(model.student.decode_head.bottleneck.bn,
                          nn.SyncBatchNorm)
    model.eval()
    x = torch.randn(2, 3, 32, 32)
    s, _ = model.extract(x)
    head = model.student.decode_head
    with torch.no_grad():
        feats = model.student.extract_feat(x)
        aspp = head.image_pool(feats[3])
        expected = head.bottleneck.bn(head.bottleneck.conv(torch.cat(
            [nn.functional.interpolate(aspp, size=feats[3].shape[2:],
                                       mode='bilinear')] +
            head.aspp_modules(feats[3]), dim=1)))
    torch.testing.assert_close(s['loss_spy'], expected)


def test_features_are_promoted_not_truncated(student_cfg, teacher_cfg):
    model = build(student_cfg, teacher_cfg, [spy()]).eval()
    x = torch.randn(2, 3, 32, 32)
    model.teacher_forward(x)  # float32
    with torch.autocast('cpu', dtype=torch.bfloat16), \
            model.student_recorder.recording():
        model.student(x, mode='tensor')
    assert model.student_recorder.get('backbone.layer4').dtype == \
        torch.bfloat16
    student, teacher = model._features(model.distill_items[0])
    assert student[0].dtype == teacher[0].dtype == torch.float32
    assert torch.equal(teacher[0],
                       model.teacher_recorder.get('backbone.layer4'))


def test_teacher_with_other_normalisation_gets_its_own_input(
        student_cfg, teacher_cfg):
    t_cfg = copy.deepcopy(teacher_cfg)
    t_cfg['data_preprocessor'].update(
        mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0], bgr_to_rgb=False)
    model = build(student_cfg, t_cfg, [spy()]).eval()
    raw = torch.rand(1, 3, 32, 32) * 255  # BGR, as loaded by mmcv
    s_dp = student_cfg['data_preprocessor']
    mean = torch.tensor(s_dp['mean']).view(1, 3, 1, 1)
    std = torch.tensor(s_dp['std']).view(1, 3, 1, 1)
    student_in = (raw.flip(1) - mean) / std  # what the distiller feeds
    _, t = model.extract(student_in)
    with torch.no_grad():
        expected = model.teacher.extract_feat(raw / 255)[3]
    torch.testing.assert_close(t['loss_spy'], expected, rtol=1e-4,
                               atol=1e-4)
    t_cfg['data_preprocessor'].update(pad_val=7)
    with pytest.raises(ValueError, match=r'pad_val=7.*pad_val=0'):
        build(student_cfg, t_cfg, [spy()])


def test_moves_and_casts_with_its_transforms_and_losses(student_cfg,
                                                        teacher_cfg):
    model = build(student_cfg, teacher_cfg, [dict(
        spy(), student_transforms=[dict(type='ConvBNConnector')])])
    model.to(torch.float64)
    item = model.distill_items[0]
    assert item.student_transforms[0][0].conv.conv.weight.dtype == \
        torch.float64
    assert item.loss.scale.dtype == torch.float64
