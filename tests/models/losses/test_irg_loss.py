import pytest
import torch

from mmkd.models.losses.base import DistillContext
from mmkd.models.losses.irg_loss import (IRGEdgeLoss, IRGTransformationLoss,
                                         IRGVertexLoss, irg_edge_loss,
                                         irg_edge_matrix,
                                         irg_transformation_loss,
                                         irg_transformation_vector,
                                         irg_vertex_loss)

# student vectors [0,0], [1,0], [0,2]: squared distances 1 (0-1), 4 (0-2),
# 5 (1-2), max 5.  Teacher [0], [1], [2]: 1, 4, 1, max 4.
S_VEC = torch.tensor([[0., 0.], [1., 0.], [0., 2.]])
T_VEC = torch.tensor([[0.], [1.], [2.]])
# A_T - A_S off the diagonal: .25-.2, 1-.8, .25-1 -> squares .0025, .04,
# .5625, each twice
EDGE_SUM = 2 * (0.05**2 + 0.2**2 + 0.75**2)


def test_pure_functions_live_in_irg_ops_and_are_re_exported():
    from mmkd.models.losses import irg_loss, irg_ops
    for name in irg_ops.__all__:
        assert getattr(irg_loss, name) is getattr(irg_ops, name), name
        assert name in irg_loss.__all__, name


def test_edge_matrix_by_hand():
    a = irg_edge_matrix(S_VEC)
    expected = torch.tensor([[0, 1, 4], [1, 0, 5], [4, 5, 0]]) / 5
    torch.testing.assert_close(a, expected)
    assert torch.equal(a.diagonal(), torch.zeros(3))


def test_edge_matrix_rounding():
    # large common offset: the diagonal is still exactly 0
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(5, 64, generator=gen) + 100
    assert torch.equal(irg_edge_matrix(x).diagonal(), torch.zeros(5))
    # float32 on a large common offset: close to the exact float64 graph
    # (the Gram form works on batch-centred vectors)
    y = torch.randn(5, 64, generator=gen) + 1000
    exact = (y.double()[:, None] - y.double()[None]).pow(2).sum(-1)
    torch.testing.assert_close(
        irg_edge_matrix(y).double(), exact / exact.max(), rtol=0, atol=1e-4)
    # samples equal up to float32 rounding (relative differences 1e-8):
    # the normaliser is at least eps * max ||f||^2, so the noise is not
    # scaled up to order 1
    same = (torch.randn(1, 64, generator=gen) * 3 + 1).repeat(4, 1)
    noisy = same + 1e-8 * torch.randn(4, 64, generator=gen)
    assert irg_edge_matrix(same).abs().max() == 0
    assert irg_edge_matrix(noisy).abs().max() < 1e-5
    assert irg_edge_loss(noisy, torch.randn(4, 3, generator=gen)).item() > 0.1
    assert irg_edge_loss(noisy, same[:, :5] * 2).item() < 1e-10


def test_edge_by_hand():
    assert irg_edge_loss(S_VEC, T_VEC).item() == pytest.approx(EDGE_SUM / 9)
    assert irg_edge_loss(S_VEC, T_VEC, reduction='caffe').item() == \
        pytest.approx(EDGE_SUM / 6)  # sum / (2B)


def test_edge_pooling():
    # maps B x 1 x 1 x 2 whose flattened vectors are S_VEC; their spatial
    # means are [0], [.5], [1]: the teacher's graph exactly
    maps = S_VEC.view(3, 1, 1, 2)
    assert irg_edge_loss(maps, T_VEC, pool='flatten').item() == \
        pytest.approx(EDGE_SUM / 9)
    assert irg_edge_loss(maps, T_VEC, pool='avg').item() == \
        pytest.approx(0, abs=1e-12)
    # the default is the average
    assert irg_edge_loss(maps, T_VEC).item() == pytest.approx(0, abs=1e-12)


def test_transformation_by_hand():
    # student: |[0,0]-[0,1]|^2 = 1, 0, |[2,0]-[0,0]|^2 = 4 -> [.25, 0, 1]
    s1 = torch.tensor([[0., 0.], [1., 1.], [2., 0.]])
    s2 = torch.tensor([[0., 1.], [1., 1.], [0., 0.]])
    torch.testing.assert_close(
        irg_transformation_vector(s1, s2), torch.tensor([.25, 0., 1.]))
    # teacher: 1, 0, 1 -> [1, 0, 1]; differences [.75, 0, 0]
    t1 = torch.tensor([[1.], [0.], [3.]])
    t2 = torch.tensor([[0.], [0.], [2.]])
    assert irg_transformation_loss((s1, s2), (t1, t2)).item() == \
        pytest.approx(0.75**2 / 3)
    assert irg_transformation_loss(
        (s1, s2), (t1, t2), reduction='caffe').item() == \
        pytest.approx(0.75**2 / 6)

    # as 4-D maps (values at 2 pixels averaging to the vectors)
    def as_map(v):
        return torch.stack([v - 1, v + 1], dim=-1)[:, :, None]
    assert irg_transformation_loss(
        (as_map(s1), as_map(s2)), (as_map(t1), as_map(t2))).item() == \
        pytest.approx(0.75**2 / 3)


def test_vertex_by_hand():
    s = torch.tensor([[1., 2.], [0., 0.]])
    t = torch.tensor([[1., 0.], [3., 4.]])
    # squared distances 4 and 25
    assert irg_vertex_loss(s, t).item() == pytest.approx(14.5)
    assert irg_vertex_loss(s, t, reduction='caffe').item() == \
        pytest.approx(29 / 4)
    # segmentation logits B x K x 1 x 2: pixel values s -/+ d, teacher flat
    d = torch.tensor([[1., 0.], [0., 0.]])
    s4 = torch.stack([s - d, s + d], dim=-1)[:, :, None]
    t4 = torch.stack([t, t], dim=-1)[:, :, None]
    assert irg_vertex_loss(s4, t4).item() == pytest.approx(14.5)  # pooled
    # per pixel: sample 0 [1, -2] and [-1, -2] -> 5, 5; sample 1 -> 25, 25
    assert irg_vertex_loss(s4, t4, per_pixel=True).item() == \
        pytest.approx(15.0)
    module = IRGVertexLoss(per_pixel=True, loss_weight=2)
    assert module(s4, t4).item() == pytest.approx(30.0)


def _edge_with_max(f, a_t, max_value, reduction):
    diff = a_t - irg_edge_matrix(f, max_value=max_value)
    return diff.pow(2).mean() if reduction == 'mean' else \
        diff.pow(2).sum() / (2 * f.shape[0])


@pytest.mark.parametrize('reduction', ['mean', 'caffe'])
def test_edge_gradient_holds_the_max_fixed(reduction):
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(4, 3, 2, 2, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(4, 5, 2, 2, generator=gen, dtype=torch.float64)
    a_t = irg_edge_matrix(t)
    const = irg_edge_matrix(s, max_value=1.0).max().detach()
    # finite differences of the loss with the normaliser a constant
    assert torch.autograd.gradcheck(
        lambda f: _edge_with_max(f, a_t, const, reduction), (s, ))
    expected, = torch.autograd.grad(
        _edge_with_max(s, a_t, const, reduction), s)
    got, = torch.autograd.grad(irg_edge_loss(s, t, reduction=reduction), s)
    torch.testing.assert_close(got, expected)
    # the check is sensitive: a max that is differentiated gives another
    raw = irg_edge_matrix(s, max_value=1.0)
    wrong = (a_t - raw / raw.max()).pow(2)
    wrong = wrong.mean() if reduction == 'mean' else wrong.sum() / 8
    other, = torch.autograd.grad(wrong, s)
    assert not torch.allclose(other, got)


def test_transformation_gradient_holds_the_max_fixed():
    gen = torch.Generator().manual_seed(1)
    s1, s2 = (torch.randn(5, 3, 2, 2, generator=gen, dtype=torch.float64,
                          requires_grad=True) for _ in range(2))
    t1, t2 = (torch.randn(5, 4, generator=gen, dtype=torch.float64)
              for _ in range(2))
    lam_t = irg_transformation_vector(t1, t2)
    const = irg_transformation_vector(s1, s2, max_value=1.0).max().detach()

    def fixed(a, b):
        lam_s = irg_transformation_vector(a, b, max_value=const)
        return (lam_t - lam_s).pow(2).mean()

    assert torch.autograd.gradcheck(fixed, (s1, s2))
    expected = torch.autograd.grad(fixed(s1, s2), (s1, s2))
    got = torch.autograd.grad(
        irg_transformation_loss((s1, s2), (t1, t2)), (s1, s2))
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e)


def test_vertex_gradient():
    gen = torch.Generator().manual_seed(2)
    s = torch.randn(2, 3, 2, 2, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    t = torch.randn(2, 3, 3, 3, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda x: irg_vertex_loss(x, t), (s, ))
    assert torch.autograd.gradcheck(
        lambda x: irg_vertex_loss(x, t[:, :, :2, :2], per_pixel=True), (s, ))


@pytest.mark.parametrize('pool', ['avg', 'flatten'])
def test_degenerate(pool):
    s = torch.randn(1, 3, 2, 2, requires_grad=True)
    t = torch.randn(1, 4, 2, 2)
    for loss in (irg_edge_loss(s, t, pool),
                 irg_transformation_loss((s, s * 2), (t, t + 1), pool)):
        # batch 1: the edge graph is [[0]] (max 0); each side's one
        # transformation distance normalises to 1
        assert loss.item() == 0.0
        s.grad = None
        loss.backward()
        assert torch.equal(s.grad, torch.zeros_like(s))
    zeros = torch.zeros(3, 3, 2, 2, requires_grad=True)
    t3 = torch.randn(3, 4, 2, 2)
    edge = irg_edge_loss(zeros, zeros.detach(), pool)
    trans = irg_transformation_loss((zeros, zeros), (zeros.detach(), ) * 2,
                                    pool)
    assert edge.item() == 0.0 and trans.item() == 0.0
    (edge + trans + irg_edge_loss(zeros, t3, pool)).backward()
    assert torch.isfinite(zeros.grad).all()
    # teacher == student: exactly 0
    x, y = torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2)
    assert irg_edge_loss(x, x.clone(), pool).item() == 0.0
    assert irg_transformation_loss((x, y), (x.clone(), y.clone()),
                                   pool).item() == 0.0
    assert irg_vertex_loss(x, x.clone()).item() == 0.0


def test_edge_module_several_student_layers():
    gen = torch.Generator().manual_seed(3)
    s_a = torch.randn(3, 4, 2, 2, generator=gen)
    s_b = torch.randn(3, 6, 1, 1, generator=gen)
    t = torch.randn(3, 8, 2, 2, generator=gen)
    loss = IRGEdgeLoss(reduction='caffe', loss_weight=0.005)
    expected = 0.005 * (irg_edge_loss(s_a, t, reduction='caffe') +
                        irg_edge_loss(s_b, t, reduction='caffe'))
    torch.testing.assert_close(loss((s_a, s_b), t), expected)
    torch.testing.assert_close(loss((s_a, s_b), (t, )), expected)
    # pairwise when both sides list as many features
    pairwise = 0.005 * (irg_edge_loss(s_a, t, reduction='caffe') +
                        irg_edge_loss(s_b, s_a, reduction='caffe'))
    torch.testing.assert_close(loss((s_a, s_b), (t, s_a)), pairwise)
    torch.testing.assert_close(
        IRGEdgeLoss(pool='flatten')(s_a, t),
        irg_edge_loss(s_a, t, pool='flatten'))
    with pytest.raises(ValueError, match='2 student features to 3 teacher'):
        loss((s_a, s_b), (t, t, t))


def test_transformation_module():
    gen = torch.Generator().manual_seed(4)
    s = tuple(torch.randn(3, 4, 2, 2, generator=gen) for _ in range(2))
    t = tuple(torch.randn(3, 8, 4, 4, generator=gen) for _ in range(2))
    torch.testing.assert_close(
        IRGTransformationLoss(loss_weight=3)(s, t),
        3 * irg_transformation_loss(s, t))
    with pytest.raises(ValueError, match='two student features.*one tensor'):
        IRGTransformationLoss()(s[0], t)
    with pytest.raises(ValueError, match='two teacher features.*3 features'):
        IRGTransformationLoss()(s, t + t[:1])


def _context(student, teacher):
    return DistillContext(
        name='loss_irg',
        student_shapes=tuple(torch.Size(x) for x in student),
        teacher_shapes=tuple(torch.Size(x) for x in teacher))


def test_setup_checks():
    ok = _context([(2, 64, 16, 16), (2, 64, 16, 16)],
                  [(2, 256, 16, 16), (2, 256, 8, 8)])
    IRGTransformationLoss().setup(ok)  # avg: channels only
    with pytest.raises(ValueError, match=r'teacher layers have shapes '
                       r'\(2, 256, 16, 16\) and \(2, 256, 8, 8\).*equal '
                       r'C x H x W'):
        IRGTransformationLoss(pool='flatten').setup(ok)
    bad = _context([(2, 64, 16, 16), (2, 128, 8, 8)], [(2, 256)] * 2)
    with pytest.raises(ValueError, match=r'loss_irg: the two student layers '
                       r'have shapes \(2, 64, 16, 16\) and \(2, 128, 8, 8\);'
                       r'.*equal channel counts'):
        IRGTransformationLoss().setup(bad)
    with pytest.raises(ValueError, match='takes two teacher features'):
        IRGTransformationLoss().setup(
            _context([(2, 4)] * 2, [(2, 4)]))
    with pytest.raises(ValueError, match='per_pixel=True.*Resize'):
        IRGVertexLoss(per_pixel=True).setup(
            _context([(2, 21, 64, 64)], [(2, 21, 128, 128)]))
    IRGVertexLoss().setup(_context([(2, 21, 64, 64)], [(2, 21, 128, 128)]))


def test_errors():
    x = torch.randn(2, 3, 4, 4)
    with pytest.raises(ValueError, match='number of classes'):
        irg_vertex_loss(x, torch.randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match=r"per_pixel=True.*Resize"):
        irg_vertex_loss(x, torch.randn(2, 3, 2, 2), per_pixel=True)
    with pytest.raises(ValueError, match='differ in batch size'):
        irg_edge_loss(x, torch.randn(3, 3, 4, 4))
    with pytest.raises(ValueError, match='differ in batch size'):
        irg_transformation_loss((x, x), (x[:1], x[:1]))
    with pytest.raises(ValueError, match=r'equal sizes.*\(2, 3, 4, 4\) and '
                       r'\(2, 5, 4, 4\)'):
        irg_transformation_vector(x, torch.randn(2, 5, 4, 4))
    with pytest.raises(ValueError, match=r"pool='max' is not one of"):
        IRGEdgeLoss(pool='max')
    with pytest.raises(ValueError, match=r"reduction='sum' is not one of"):
        irg_edge_loss(x, x, reduction='sum')
    with pytest.raises(ValueError, match=r'B x C x H x W or B x D'):
        irg_edge_loss(torch.randn(2, 3, 4), x)
    with pytest.raises(ValueError, match='floating point'):
        irg_edge_loss(x.long(), x)


def test_traits_and_registry():
    from mmkd.registry import MODELS
    edge = MODELS.build(dict(type='IRGEdgeLoss', reduction='caffe'))
    trans = MODELS.build(dict(type='IRGTransformationLoss'))
    vertex = MODELS.build(dict(type='IRGVertexLoss'))
    assert edge.accepts_multiple and trans.accepts_multiple
    assert not vertex.accepts_multiple
    assert not edge.requires_equal_channels
    assert not trans.requires_equal_channels
    assert vertex.requires_equal_channels
    assert "reduction='caffe'" in repr(edge)
