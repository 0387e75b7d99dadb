"""IRG's edge graph over the positions of each image
(:func:`irg_position_edge_loss`, :class:`IRGPositionEdgeLoss`)."""
import pytest
import torch

from mmkd.models.losses.base import DistillContext
from mmkd.models.losses.irg_loss import (IRGPositionEdgeLoss, irg_edge_loss,
                                         irg_position_edge_loss,
                                         irg_position_edge_matrix)

# one image, three positions in a row (1 x 3 map). Student position vectors
# [0,0], [1,0], [0,2]: squared distances 1, 4, 5, max 5. Teacher [0], [1],
# [2]: 1, 4, 1, max 4. A_T - A_S off the diagonal: .05, .2, -.75, twice each.
S_MAP = torch.tensor([[[[0., 1., 0.]], [[0., 0., 2.]]]])  # 1 x 2 x 1 x 3
T_MAP = torch.tensor([[[[0., 1., 2.]]]])  # 1 x 1 x 1 x 3
EDGE_SUM = 2 * (0.05**2 + 0.2**2 + 0.75**2)


def test_matrix_by_hand():
    a = irg_position_edge_matrix(S_MAP)
    assert a.shape == (1, 3, 3)
    expected = torch.tensor([[0, 1, 4], [1, 0, 5], [4, 5, 0]]) / 5
    torch.testing.assert_close(a[0], expected)
    assert torch.equal(a[0].diagonal(), torch.zeros(3))


def test_loss_by_hand():
    assert irg_position_edge_loss(S_MAP, T_MAP).item() == \
        pytest.approx(EDGE_SUM / 9)
    assert irg_position_edge_loss(S_MAP, T_MAP, reduction='caffe').item() \
        == pytest.approx(EDGE_SUM / 2)  # sum / (2B), B = 1
    # a second image whose graphs agree: the mean over B*N*N halves
    s = torch.cat([S_MAP, T_MAP.expand(1, 2, 1, 3)])
    t = torch.cat([T_MAP, 3 * T_MAP])
    assert irg_position_edge_loss(s, t).item() == \
        pytest.approx(EDGE_SUM / 18)


def test_each_image_has_its_own_normaliser():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(3, 4, 2, 3, generator=gen)
    t = torch.randn(3, 6, 2, 3, generator=gen)
    base = irg_position_edge_loss(s, t)
    scale = torch.tensor([1., 10., 0.1]).view(3, 1, 1, 1)
    torch.testing.assert_close(irg_position_edge_loss(s * scale, t), base)
    # the graph is over positions, not images: not the batch graph
    assert not torch.isclose(base, irg_edge_loss(s, t, pool='flatten'))


def _fixed_max_loss(s, a_t, top):
    f = s.flatten(2).transpose(1, 2)
    d = (f[:, :, None] - f[:, None]).pow(2).sum(-1)
    return (a_t - d / top[:, None, None]).pow(2).mean()


def test_gradient_holds_each_max_fixed():
    gen = torch.Generator().manual_seed(1)
    s = torch.randn(2, 3, 2, 2, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(2, 5, 2, 2, generator=gen, dtype=torch.float64)
    a_t = irg_position_edge_matrix(t)
    f = s.detach().flatten(2).transpose(1, 2)
    top = (f[:, :, None] - f[:, None]).pow(2).sum(-1).amax(dim=(1, 2))
    assert torch.autograd.gradcheck(
        lambda x: _fixed_max_loss(x, a_t, top), (s, ))
    expected, = torch.autograd.grad(_fixed_max_loss(s, a_t, top), s)
    got, = torch.autograd.grad(irg_position_edge_loss(s, t), s)
    torch.testing.assert_close(got, expected)
    # sensitive: differentiating through the max gives another gradient
    d = (s.flatten(2).transpose(1, 2)[:, :, None] -
         s.flatten(2).transpose(1, 2)[:, None]).pow(2).sum(-1)
    wrong = (a_t - d / d.amax(dim=(1, 2), keepdim=True)).pow(2).mean()
    other, = torch.autograd.grad(wrong, s)
    assert not torch.allclose(other, got)


def test_degenerate():
    # a constant map: an all-zero graph, finite loss and gradient
    s = torch.ones(2, 3, 4, 4, requires_grad=True)
    t = torch.randn(2, 5, 4, 4)
    assert irg_position_edge_matrix(s).abs().max() == 0
    loss = irg_position_edge_loss(s, t)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()
    # one position: nothing to relate
    one = torch.randn(2, 3, 1, 1, requires_grad=True)
    loss = irg_position_edge_loss(one, torch.randn(2, 4, 1, 1))
    loss.backward()
    assert loss.item() == 0 and torch.equal(one.grad, torch.zeros_like(one))
    # a constant map up to float32 rounding stays near 0, not order 1
    noisy = 5 + 1e-7 * torch.randn(1, 8, 3, 3)
    assert irg_position_edge_matrix(noisy).abs().max() < 1e-4


def test_errors():
    x = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match=r"one H x W.*\(2, 3, 4, 4\).*"
                       r"\(2, 3, 2, 2\).*Resize"):
        irg_position_edge_loss(x, torch.randn(2, 3, 2, 2))
    with pytest.raises(ValueError, match='differ in batch size'):
        irg_position_edge_loss(x, torch.randn(3, 3, 4, 4))
    with pytest.raises(ValueError, match=r'B x C x H x W maps'):
        irg_position_edge_loss(torch.randn(2, 3), torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"reduction='sum' is not one of"):
        irg_position_edge_loss(x, x, reduction='sum')
    with pytest.raises(ValueError, match='floating point'):
        irg_position_edge_matrix(x.long())


def test_module_setup_and_registry():
    from mmkd.registry import MODELS
    loss = MODELS.build(dict(type='IRGPositionEdgeLoss', loss_weight=2.0))
    assert isinstance(loss, IRGPositionEdgeLoss)
    assert not loss.requires_equal_channels
    ctx = DistillContext(name='loss_irg_edge',
                         student_shapes=(torch.Size((2, 32, 8, 8)), ),
                         teacher_shapes=(torch.Size((2, 128, 8, 8)), ))
    loss.setup(ctx)
    bad = DistillContext(name='loss_irg_edge',
                         student_shapes=(torch.Size((2, 32, 8, 8)), ),
                         teacher_shapes=(torch.Size((2, 128, 16, 16)), ))
    with pytest.raises(ValueError, match=r'loss_irg_edge: .*one H x W.*'
                       r'\(2, 32, 8, 8\).*\(2, 128, 16, 16\).*Resize'):
        loss.setup(bad)
    out = loss.compute(S_MAP.clone().requires_grad_(), T_MAP)
    assert out.item() == pytest.approx(EDGE_SUM / 9)


# distance='cosine': 1 - cos between position vectors, not normalised.
# Positions [1,0], [1,1], [0,1], [-1,0] of one 1 x 4 map.
C_MAP = torch.tensor([[[[1., 1., 0., -1.]], [[0., 1., 1., 0.]]]])
R = 2**-0.5


def test_cosine_matrix_by_hand():
    a = irg_position_edge_matrix(C_MAP, distance='cosine')
    expected = torch.tensor([[0, 1 - R, 1, 2], [1 - R, 0, 1 - R, 1 + R],
                             [1, 1 - R, 0, 1], [2, 1 + R, 1, 0]])
    torch.testing.assert_close(a[0], expected)
    assert torch.equal(a[0].diagonal(), torch.zeros(4))
    # scale-free per position, unlike the squared form
    scale = torch.tensor([[[[0.5, 3., 10., 0.2]]]])
    torch.testing.assert_close(
        irg_position_edge_matrix(C_MAP * scale, distance='cosine'), a)
    assert not torch.allclose(irg_position_edge_matrix(C_MAP * scale),
                              irg_position_edge_matrix(C_MAP))


def test_cosine_loss_by_hand_with_a_zero_vector():
    # S_MAP's first position is 0: at distance 1 from the others; [1,0] and
    # [0,2] are orthogonal, 1. T_MAP: 0 -> 1, 1; [1] and [2] agree, 0. The
    # graphs differ in one pair only, by 1, twice: 2 / 9 over 3 x 3.
    s = S_MAP.clone().requires_grad_()
    loss = irg_position_edge_loss(s, T_MAP, distance='cosine')
    assert loss.item() == pytest.approx(2 / 9)
    loss.backward()
    assert torch.isfinite(s.grad).all() and s.grad.abs().sum() > 0
    module = IRGPositionEdgeLoss(distance='cosine')
    assert module.compute(S_MAP, T_MAP).item() == pytest.approx(2 / 9)
    assert "distance='cosine'" in repr(module)


def test_cosine_gradient():
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 3, 2, 2, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(2, 5, 2, 2, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda x: irg_position_edge_loss(x, t, distance='cosine'), (s, ))
    # a student that is the teacher scaled has its graph: no gradient
    same = t[:, :3].clone().requires_grad_()
    loss = irg_position_edge_loss(same, t[:, :3] * 4, distance='cosine')
    loss.backward()
    assert loss.item() == pytest.approx(0, abs=1e-12)
    assert same.grad.abs().max() < 1e-6


def test_cosine_degenerate_and_errors():
    # a constant map: every position points one way, an all-zero graph
    s = torch.full((2, 3, 4, 4), 5., requires_grad=True)
    assert irg_position_edge_matrix(s, distance='cosine').abs().max() < 1e-6
    loss = irg_position_edge_loss(s, torch.randn(2, 5, 4, 4),
                                  distance='cosine')
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(s.grad).all()
    # an all-zero map: every pair at distance 1, finite gradient
    z = torch.zeros(1, 3, 2, 2, requires_grad=True)
    a = irg_position_edge_matrix(z, distance='cosine')
    torch.testing.assert_close(a[0], 1 - torch.eye(4))
    irg_position_edge_loss(z, torch.randn(1, 2, 2, 2),
                           distance='cosine').backward()
    assert torch.isfinite(z.grad).all()
    with pytest.raises(ValueError, match=r"distance='l1' is not one of"):
        irg_position_edge_loss(C_MAP, C_MAP, distance='l1')
    with pytest.raises(ValueError, match=r"distance='l1' is not one of"):
        IRGPositionEdgeLoss(distance='l1')
