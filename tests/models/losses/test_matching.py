"""MGD channel matching: the cost and the assignment (scipy)."""
import itertools

import numpy as np
import pytest
import torch

from mmkd.models.losses.matching import (assignment_cost, channel_cost,
                                         identity_assignment, match_channels)


def naive_cost(student, teacher):
    """Loop form of sum_b (2 - 2 s_hat t_hat^T), written independently."""
    s = student.double().numpy()
    t = teacher.double().numpy()
    b, cs = s.shape[:2]
    ct = t.shape[1]
    out = np.zeros((cs, ct))
    for n in range(b):
        for i in range(cs):
            u = s[n, i].ravel()
            nu = np.linalg.norm(u)
            u = u / nu if nu > 0 else u
            for j in range(ct):
                v = t[n, j].ravel()
                nv = np.linalg.norm(v)
                v = v / nv if nv > 0 else v
                out[i, j] += np.sum((u - v)**2) if nu > 0 and nv > 0 else \
                    2.0 - 2.0 * float(u @ v)
    return out


def test_channel_cost_matches_loop():
    gen = torch.Generator().manual_seed(0)
    s = torch.randn(3, 4, 5, 6, generator=gen)
    t = torch.randn(3, 7, 5, 6, generator=gen)
    cost = channel_cost(s, t)
    assert cost.shape == (4, 7) and cost.dtype == torch.float64
    np.testing.assert_allclose(cost.numpy(), naive_cost(s, t), atol=1e-5)
    # each entry is a sum over 3 images of values in [0, 4]
    assert (cost >= -1e-6).all() and (cost <= 12 + 1e-6).all()


def test_channel_cost_identical_channels_cost_zero_and_scale_free():
    gen = torch.Generator().manual_seed(1)
    t = torch.randn(2, 3, 4, 4, generator=gen)
    s = 5.0 * t[:, [2, 0, 1]]  # a positive scale changes nothing
    cost = channel_cost(s, t)
    for i, j in enumerate([2, 0, 1]):
        assert cost[i, j].item() == pytest.approx(0, abs=1e-5)


def test_channel_cost_zero_channel_is_safe():
    s = torch.zeros(2, 2, 3, 3)
    s[:, 1] = 1.0
    t = torch.randn(2, 3, 3, 3)
    t[:, 2] = 0.0
    cost = channel_cost(s, t)
    assert torch.isfinite(cost).all()
    # a zero vector costs 2 per image against anything
    assert torch.allclose(cost[0], torch.full((3, ), 4.0, dtype=cost.dtype))
    assert torch.allclose(cost[:, 2], torch.full((2, ), 4.0,
                                                 dtype=cost.dtype))


def test_channel_cost_rejects_different_sizes():
    with pytest.raises(ValueError, match='spatial size'):
        channel_cost(torch.randn(1, 2, 4, 4), torch.randn(1, 4, 8, 8))


def test_one_to_one_square_known_optimum():
    # greedy row by row would take (0, 0) and pay 1 + 100; the optimum is
    # 0 -> 1, 1 -> 0, total 4
    cost = np.array([[1., 2.], [2., 100.]])
    a = match_channels(cost, 'one_to_one')
    assert a.shape == (1, 2)
    assert a.tolist() == [[1, 0]]


def test_one_to_one_drops_extra_teacher_channels():
    cost = np.array([[5., 0., 5., 5.], [5., 5., 5., 0.5]])
    a = match_channels(torch.from_numpy(cost), 'one_to_one')
    assert a.tolist() == [[1, 3]]


def test_many_to_one_known_optimum():
    # student 0 is close to teacher 0 and 2, student 1 to teacher 1 and 3
    cost = np.array([[0., 9., 1., 9.], [9., 0., 9., 2.]])
    a = match_channels(cost, 'many_to_one')
    assert a.shape == (2, 2)
    assert sorted(a[:, 0].tolist()) == [0, 2]
    assert sorted(a[:, 1].tolist()) == [1, 3]


def test_many_to_one_gives_each_student_channel_exactly_g():
    gen = np.random.default_rng(0)
    cost = gen.random((3, 7))  # G = 2, one teacher channel dropped
    a = match_channels(cost, 'many_to_one')
    assert a.shape == (2, 3)
    assert len(set(a.ravel().tolist())) == 6  # distinct
    assert set(a.ravel().tolist()) <= set(range(7))


def brute_force_many_to_one(cost, groups):
    """Minimum total cost over all ways to give each student ``groups``
    distinct teacher channels (small sizes only)."""
    cs, ct = cost.shape
    best = np.inf
    for perm in itertools.permutations(range(ct), groups * cs):
        total = sum(cost[r % cs, c] for r, c in enumerate(perm))
        best = min(best, total)
    return best


@pytest.mark.parametrize('cs,ct', [(2, 4), (2, 5), (3, 3), (2, 3)])
def test_many_to_one_is_optimal(cs, ct):
    gen = np.random.default_rng(cs * 10 + ct)
    cost = gen.random((cs, ct))
    groups = ct // cs
    a = match_channels(cost, 'many_to_one')
    total = cost[np.broadcast_to(np.arange(cs), a.shape), a].sum()
    assert total == pytest.approx(brute_force_many_to_one(cost, groups))


def test_dropped_teacher_channel_is_the_expensive_one():
    cost = np.array([[0., 1., 50., 0.5, 1.], [1., 0., 50., 1., 0.5]])
    a = match_channels(cost, 'many_to_one')
    assert 2 not in a.ravel().tolist()


def test_fewer_teacher_channels_fail_naming_both():
    with pytest.raises(ValueError, match=r'C_t=3.*C_s=4'):
        match_channels(np.zeros((4, 3)), 'many_to_one')
    with pytest.raises(ValueError, match=r'C_t=3.*C_s=4'):
        match_channels(np.zeros((4, 3)), 'one_to_one')


def test_bad_mode_and_bad_cost():
    with pytest.raises(ValueError, match='one_to_one'):
        match_channels(np.zeros((2, 2)), 'greedy')
    with pytest.raises(ValueError, match='NaN'):
        match_channels(np.array([[0., np.nan], [1., 1.]]), 'one_to_one')


def test_identity_assignment():
    a = identity_assignment(3, 7, 'many_to_one')
    assert a.tolist() == [[0, 1, 2], [3, 4, 5]]
    assert identity_assignment(3, 7, 'one_to_one').tolist() == [[0, 1, 2]]


def test_assignment_cost():
    cost = np.array([[0., 4.], [2., 6.]])
    assert assignment_cost(cost, np.array([[1, 0]]), num_images=2) == \
        pytest.approx((4 + 2) / 2 / 2)
