"""MatchingGuidedLoss: margins, reductions, partial L2, setup and state."""
import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import norm
from torch import nn

from mmkd.models.losses.base import DistillContext
from mmkd.models.losses.mgd_loss import (MatchingGuidedLoss, gather_groups,
                                         margin_from_bn, partial_l2,
                                         reduce_amp, reduce_random,
                                         teacher_margin)
from mmkd.models.recorders import FeatureRecorder, FeatureSpec
from mmkd.registry import MODELS


# --------------------------------------------------------------------------
# margin
# --------------------------------------------------------------------------
def scipy_margin(gamma, beta):
    """The paper's margin, written independently with scipy.stats.norm."""
    s, m = abs(gamma), beta
    if norm.cdf(-m / s) > 0.001:
        return m - s * norm.pdf(m / s) / norm.cdf(-m / s)
    return -3 * s


def test_margin_matches_scipy_both_branches():
    gammas = [1.0, 0.5, -2.0, 0.3, 1.0, 0.1, 2.0]
    betas = [0.0, -1.0, 0.7, 1.0, 4.0, 0.5, -5.0]
    expected = [scipy_margin(g, b) for g, b in zip(gammas, betas)]
    # betas 4.0 (s=1) and 0.5 (s=0.1) fall in the -3s branch
    assert norm.cdf(-4.0) <= 0.001 and norm.cdf(-5.0) <= 0.001
    assert expected[4] == -3.0 and expected[5] == pytest.approx(-0.3)
    got = teacher_margin(torch.tensor(gammas), torch.tensor(betas))
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)
    # a known value: N(0, 1) -> -phi(0) / 0.5
    assert got[0].item() == pytest.approx(-2 / math.sqrt(2 * math.pi))
    # the margin is the mean of the negative part: always below 0 and m
    assert (got < 0).all()


def test_margin_branch_boundary():
    # Phi(-m/s) just above / below 0.001
    z = norm.ppf(0.001)  # -3.09
    above = teacher_margin(torch.tensor([1.0]), torch.tensor([-z - 1e-3]))
    below = teacher_margin(torch.tensor([1.0]), torch.tensor([-z + 1e-3]))
    assert above.item() == pytest.approx(scipy_margin(1.0, -z - 1e-3),
                                         rel=1e-5)
    assert below.item() == pytest.approx(scipy_margin(1.0, -z + 1e-3),
                                         rel=1e-5)
    assert below.item() == pytest.approx(-3.0)


def test_margin_zero_gamma_is_finite():
    got = teacher_margin(torch.tensor([0.0, 0.0]), torch.tensor([-0.4, 0.4]))
    assert got.tolist() == pytest.approx([-0.4, 0.0])


def test_margin_from_bn():
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(torch.tensor([0.0, 1.0, 3.0]))
    expected = [scipy_margin(1, 0), scipy_margin(2, 1), scipy_margin(0.5, 3)]
    assert margin_from_bn(bn).tolist() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(TypeError, match='BatchNorm'):
        margin_from_bn(nn.ReLU())


# --------------------------------------------------------------------------
# reductions
# --------------------------------------------------------------------------
def test_gather_groups_layout():
    t = torch.arange(6.).reshape(1, 6, 1, 1)
    a = torch.tensor([[5, 0], [2, 3], [1, 4]])  # G=3, C_s=2
    g = gather_groups(t, a)
    assert g.shape == (1, 3, 2, 1, 1)
    assert g[0, :, 0, 0, 0].tolist() == [5, 2, 1]
    assert g[0, :, 1, 0, 0].tolist() == [0, 3, 4]


def test_amp_picks_largest_magnitude_per_position():
    # B=1, G=3, C=1, H=1, W=3
    groups = torch.tensor([[[[[1.0, -5.0, 0.5]]], [[[-2.0, 4.0, 0.2]]],
                            [[[0.5, 1.0, -0.75]]]]])
    out = reduce_amp(groups)
    assert out.shape == (1, 1, 1, 3)
    assert out.flatten().tolist() == [-2.0, -5.0, -0.75]
    # the authors' released code: signed max
    assert reduce_amp(groups, 'signed').flatten().tolist() == [1.0, 4.0, 0.5]


def test_rd_only_picks_group_members_with_their_margin():
    b, g, c, h, w = 2, 3, 4, 5, 5
    # member k of channel j holds the value 100*k + j everywhere
    member = torch.arange(g).reshape(1, g, 1, 1, 1) * 100.
    channel = torch.arange(c).reshape(1, 1, c, 1, 1).float()
    groups = (member + channel).expand(b, g, c, h, w).contiguous()
    margins = -(torch.arange(g).reshape(g, 1) * 10. + torch.arange(c)) - 1
    gen = torch.Generator().manual_seed(0)
    values, m = reduce_random(groups, margins, generator=gen)
    assert values.shape == (b, c, h, w) and m.shape == (b, c, h, w)
    k = (values - torch.arange(c).reshape(1, c, 1, 1)) / 100.
    assert torch.equal(k, k.round()) and k.min() >= 0 and k.max() <= g - 1
    # each position's margin is the drawn member's
    expected = -(k * 10 + torch.arange(c).reshape(1, c, 1, 1)) - 1
    assert torch.equal(m, expected)
    # uniform: every member drawn, none dominating
    counts = torch.bincount(k.long().flatten(), minlength=g).float()
    assert (counts / counts.sum() - 1 / g).abs().max() < 0.1


def test_partial_l2_by_hand():
    s = torch.tensor([1.0, -1.0, -3.0, 0.5]).reshape(1, 4, 1, 1)
    t = torch.tensor([0.5, -2.0, -1.0, 2.0]).reshape(1, 4, 1, 1)
    m = torch.tensor([0.0, -1.5, -2.0, 0.0]).reshape(1, 4, 1, 1)
    # clamped teacher: 0.5, -1.5, -1.0, 2.0
    # counted: s > t' or t' > 0 -> [yes, yes (-1 > -1.5), no, yes]
    expected = (1 - .5)**2 + (-1 + 1.5)**2 + (0.5 - 2)**2
    assert partial_l2(s, t, m).item() == pytest.approx(expected)


# --------------------------------------------------------------------------
# the module
# --------------------------------------------------------------------------
class TinyTeacher(nn.Module):
    """A 'teacher' whose distilled features are two BN outputs."""

    def __init__(self, channels=(4, 6)):
        super().__init__()
        self.bns = nn.ModuleList(nn.BatchNorm2d(c) for c in channels)
        with torch.no_grad():
            for bn in self.bns:
                bn.weight.uniform_(0.5, 2.0)
                bn.bias.uniform_(-1.0, 1.0)


def make_loss(student_channels=(2, 3), teacher_channels=(4, 6), hw=(3, 3),
              **kwargs):
    teacher = TinyTeacher(teacher_channels)
    loss = MODELS.build(dict(type='MatchingGuidedLoss', **kwargs))
    specs = tuple(
        FeatureSpec(module=f'bns.{i}') for i in range(len(teacher_channels)))
    loss.setup(
        DistillContext(
            name='loss_mgd',
            student_shapes=tuple(
                torch.Size([2, c, *hw]) for c in student_channels),
            teacher_shapes=tuple(
                torch.Size([2, c, *hw]) for c in teacher_channels),
            teacher_specs=specs,
            teacher=teacher))
    return loss, teacher


def reference_loss(loss, students, teachers, reducer):
    """Loop over stages, channels and positions, from the definitions."""
    k = len(students)
    total = 0.0
    for i, (s, t) in enumerate(zip(students, teachers)):
        bn = loss.adapters[i]
        s = F.batch_norm(s, None, None, bn.weight, bn.bias, True, 0.0,
                         bn.eps)
        a = loss.assignment(i)
        margins = loss.margin(i)
        stage = 0.0
        for c in range(s.shape[1]):
            members = a[:, c].tolist()
            values, m = reducer(t[:, members], margins[members])
            target = torch.maximum(values, m)
            d = s[:, c]
            mask = (d > target) | (target > 0)
            stage += float(((d - target)**2)[mask].sum().detach())
        total += stage / 2**(k - 1 - i)
    return total / students[0].shape[0] / loss.loss_factor


def amp_reference(t, m):
    index = t.abs().argmax(dim=1, keepdim=True)
    return t.gather(1, index)[:, 0], m.mean()


def sm_reference(t, m):
    return t[:, 0], m[0]


@pytest.mark.parametrize('reduction,reducer', [('amp', amp_reference),
                                               ('sm', sm_reference)])
def test_loss_matches_reference(reduction, reducer):
    loss, _ = make_loss(reduction=reduction, loss_factor=10.0)
    gen = np.random.default_rng(0)
    loss.set_assignment([
        gen.permutation(4)[:loss.assignment(0).numel()].reshape(
            loss.assignment(0).shape),
        gen.permutation(6)[:loss.assignment(1).numel()].reshape(
            loss.assignment(1).shape)
    ])
    torch.manual_seed(0)
    students = (torch.randn(2, 2, 3, 3), torch.randn(2, 3, 3, 3))
    teachers = (torch.randn(2, 4, 3, 3), torch.randn(2, 6, 3, 3))
    expected = reference_loss(loss, students, teachers, reducer)
    got = loss(students, teachers)
    assert got.item() == pytest.approx(expected, rel=1e-5)
    assert expected > 0


def test_sm_uses_the_matched_channel():
    loss, _ = make_loss(reduction='sm')
    loss.set_assignment([[[3, 1]], [[5, 0, 2]]])
    t = torch.randn(2, 6, 3, 3)
    values, margin = loss.reduce(1, t)
    assert torch.equal(values, t[:, [5, 0, 2]])
    assert torch.equal(margin.flatten(), loss.margin(1)[[5, 0, 2]])


def test_rd_loss_uses_group_members_only():
    loss, _ = make_loss(reduction='rd')
    loss.set_assignment([[[2, 0], [3, 1]], [[4, 0, 1], [5, 3, 2]]])
    t = torch.arange(6.).reshape(1, 6, 1, 1).expand(2, 6, 4, 4)
    values, margin = loss.reduce(1, t)
    for c, members in enumerate([[4, 5], [0, 3], [1, 2]]):
        assert set(values[:, c].unique().tolist()) <= set(members)
        drawn = values[:, c].long()
        assert torch.equal(margin[:, c], loss.margin(1)[drawn])


def test_amp_margin_is_the_group_mean():
    loss, _ = make_loss(reduction='amp')
    loss.set_assignment([[[2, 0], [3, 1]], [[4, 0, 1], [5, 3, 2]]])
    _, margin = loss.reduce(0, torch.randn(1, 4, 2, 2))
    m = loss.margin(0)
    assert margin.flatten().tolist() == pytest.approx(
        [(m[2] + m[3]).item() / 2, (m[0] + m[1]).item() / 2])


def test_setup_state_and_defaults():
    loss, teacher = make_loss(student_channels=(2, 3),
                              teacher_channels=(5, 6))
    assert loss.stage_factors == [0.5, 1.0]
    assert loss.assignment(0).tolist() == [[0, 1], [2, 3]]  # tiled identity
    assert loss.assignment(1).tolist() == [[0, 1, 2], [3, 4, 5]]
    assert not loss.is_matched and int(loss.num_matchings) == 0
    assert torch.allclose(loss.margin(1), margin_from_bn(teacher.bns[1]))
    keys = set(loss.state_dict())
    assert {'assignment_0', 'assignment_1', 'margin_0', 'margin_1',
            'matched', 'num_matchings', 'adapters.0.weight',
            'adapters.1.running_mean'} <= keys
    assert [p.shape[0] for p in loss.adapters.parameters()] == [2, 2, 3, 3]


def test_state_dict_round_trip():
    loss, _ = make_loss()
    loss.set_assignment([[[3, 0], [1, 2]], [[5, 4, 3], [2, 1, 0]]])
    fresh, _ = make_loss()
    assert not fresh.is_matched
    fresh.load_state_dict(copy.deepcopy(loss.state_dict()))
    assert fresh.is_matched and int(fresh.num_matchings) == 1
    assert fresh.assignment(1).tolist() == [[5, 4, 3], [2, 1, 0]]


def test_fewer_teacher_channels_fail_at_setup():
    with pytest.raises(ValueError, match=r'stage 1.*C_t=2.*C_s=3'):
        make_loss(student_channels=(2, 3), teacher_channels=(4, 2))


def test_options_are_checked():
    with pytest.raises(ValueError, match='reduction'):
        MatchingGuidedLoss(reduction='max')
    with pytest.raises(ValueError, match='loss_factor'):
        MatchingGuidedLoss(loss_factor=0)
    with pytest.raises(ValueError, match='stage_factors'):
        make_loss(stage_factors=(1.0, ))
    with pytest.raises(ValueError, match='no module'):
        make_loss(teacher_bn=['bns.0', 'nothing'])
    with pytest.raises(ValueError, match='has 4 channels'):
        make_loss(teacher_bn=['bns.0', 'bns.0'])
    with pytest.raises(RuntimeError, match='set up'):
        MatchingGuidedLoss()(torch.randn(1, 2, 2, 2), torch.randn(1, 2, 2, 2))


def test_single_stage_and_stage_factor():
    loss, _ = make_loss(student_channels=(2, ), teacher_channels=(4, ),
                        stage_factors=0.25, teacher_bn=None)
    assert loss.stage_factors == [0.25]
    assert torch.isinf(loss.margin(0)).all()
    s, t = torch.randn(2, 2, 3, 3), torch.randn(2, 4, 3, 3)
    full, _ = make_loss(student_channels=(2, ), teacher_channels=(4, ),
                        teacher_bn=None)
    assert loss(s, t).item() == pytest.approx(0.25 * full(s, t).item())


def test_loss_gradient_reaches_student_and_adapter_only():
    loss, _ = make_loss()
    s = (torch.randn(2, 2, 3, 3, requires_grad=True),
         torch.randn(2, 3, 3, 3, requires_grad=True))
    t = (torch.randn(2, 4, 3, 3, requires_grad=True),
         torch.randn(2, 6, 3, 3, requires_grad=True))
    loss(s, t).backward()
    assert all(x.grad is not None for x in s)
    assert all(x.grad is None for x in t)
    assert loss.adapters[0].weight.grad is not None


def test_warns_once_when_training_unmatched(monkeypatch):
    import mmkd.models.losses.mgd_loss as module
    messages = []
    monkeypatch.setattr(module, 'print_log',
                        lambda msg, **kwargs: messages.append(msg))
    loss, _ = make_loss()
    s = (torch.randn(2, 2, 3, 3), torch.randn(2, 3, 3, 3))
    t = (torch.randn(2, 4, 3, 3), torch.randn(2, 6, 3, 3))
    loss.eval()
    loss(s, t)
    assert not messages  # evaluation: no warning
    loss.train()
    loss(s, t)
    loss(s, t)
    assert sum('MatchingGuidedHook' in m for m in messages) == 1
    matched, _ = make_loss()
    matched.set_assignment([matched.assignment(0), matched.assignment(1)])
    messages.clear()
    matched(s, t)
    assert not messages


# --------------------------------------------------------------------------
# pre-activation capture of the specs the MGD configs use
# --------------------------------------------------------------------------
def _capture(model, spec, x):
    recorder = FeatureRecorder(model, [dict(spec, clone=True)])
    with recorder.recording():
        model(x)
    out = recorder.get(FeatureSpec.parse(dict(spec, clone=True)))
    recorder.remove()
    return out


@pytest.mark.parametrize('depth,block', [(18, '1'), (50, '2')])
def test_relu_input_is_the_pre_activation_sum(depth, block):
    from mmseg.models.backbones import ResNetV1c
    torch.manual_seed(0)
    net = ResNetV1c(depth=depth, stem_channels=8, base_channels=8)
    net.eval()  # mmseg ResNet.train() returns None
    x = torch.randn(2, 3, 32, 32)
    feat = _capture(net, dict(module=f'layer1.{block}.relu', source='input',
                              call=-1), x)
    # hand-written forward of the last block of stage 1
    blocks = list(net.layer1)
    with torch.no_grad():
        h = net.stem(x)
        h = net.maxpool(h)
        for b in blocks[:-1]:
            h = b(h)
        last = blocks[-1]
        out = F.relu(last.bn1(last.conv1(h)))
        if depth == 18:
            out = last.bn2(last.conv2(out))
        else:
            out = F.relu(last.bn2(last.conv2(out)))
            out = last.bn3(last.conv3(out))
        expected = out + h  # identity: no downsample in the last block
    assert torch.allclose(feat, expected, atol=1e-5)
    assert (feat < 0).any()  # really before the ReLU


def test_torchvision_relu_input_is_the_pre_activation_sum():
    torchvision = pytest.importorskip('torchvision')
    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    feat = _capture(net, dict(module='layer2.1.relu', source='input'), x)
    with torch.no_grad():
        h = net.maxpool(net.relu(net.bn1(net.conv1(x))))
        h = net.layer2[0](net.layer1(h))
        last = net.layer2[1]
        out = last.bn2(last.conv2(F.relu(last.bn1(last.conv1(h)))))
        expected = out + h
    assert torch.allclose(feat, expected, atol=1e-5)
