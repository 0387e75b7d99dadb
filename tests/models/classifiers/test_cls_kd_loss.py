"""ClsKDLoss: Hinton KD on B x K logits."""
import math

import pytest
import torch

from mmkd.models.losses import ClsKDLoss, cls_kd_loss
from mmkd.registry import MODELS


def test_value_by_hand():
    # one sample, two classes, tau 2: p_t = softmax([2, 0] / 2),
    # p_s = softmax([0, 0] / 2) = (0.5, 0.5)
    s = torch.tensor([[0.0, 0.0]])
    t = torch.tensor([[2.0, 0.0]])
    pt1 = math.exp(1) / (math.exp(1) + 1)
    kl = pt1 * math.log(pt1 / 0.5) + (1 - pt1) * math.log((1 - pt1) / 0.5)
    assert cls_kd_loss(s, t, tau=2.0).item() == pytest.approx(4 * kl)


def test_batch_mean_and_weight():
    torch.manual_seed(0)
    s, t = torch.randn(4, 10), torch.randn(4, 10)
    per_sample = torch.stack(
        [cls_kd_loss(s[i:i + 1], t[i:i + 1], 3.0) for i in range(4)])
    torch.testing.assert_close(cls_kd_loss(s, t, 3.0), per_sample.mean())
    loss = MODELS.build(dict(type='ClsKDLoss', tau=3.0, loss_weight=0.5))
    torch.testing.assert_close(loss(s, t), 0.5 * per_sample.mean())
    assert cls_kd_loss(t, t).item() == pytest.approx(0.0, abs=1e-7)


def test_gradient_pulls_student_to_teacher():
    s = torch.zeros(1, 3, requires_grad=True)
    t = torch.tensor([[3.0, 0.0, 0.0]])
    cls_kd_loss(s, t).backward()
    assert s.grad[0, 0] < 0 < s.grad[0, 1]


def test_half_inputs_give_float32():
    s, t = torch.randn(2, 5).half(), torch.randn(2, 5).half()
    assert cls_kd_loss(s, t).dtype == torch.float32


@pytest.mark.parametrize('s, t, match', [
    (torch.randn(2, 5, 4, 4), torch.randn(2, 5, 4, 4), 'B x K logits'),
    (torch.randn(2, 5), torch.randn(2, 6), 'differ'),
])
def test_shape_errors(s, t, match):
    with pytest.raises(ValueError, match=match):
        cls_kd_loss(s, t)


def test_options_and_keywords():
    with pytest.raises(ValueError, match='tau'):
        ClsKDLoss(tau=0)
    loss = ClsKDLoss()
    assert not loss.requires_target
    with pytest.raises(TypeError, match='target'):
        loss(torch.randn(2, 3), torch.randn(2, 3), target=torch.zeros(2))
