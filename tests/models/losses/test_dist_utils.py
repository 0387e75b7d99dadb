"""gather_with_grad and the relation losses on 2 CPU processes (gloo).

Convention under test (see mmkd.models.losses.dist_utils): a relation loss
on gathered embeddings logs the global-batch value on every rank, and after
DistributedDataParallel averages the parameter gradients over the ranks,
the update equals the single-process gradient on the whole batch. On the
inputs, each rank's gradient is ``world_size`` times the single-process
partial derivative of its own samples (the factor DDP's average removes).
"""
import os
import socket
from datetime import timedelta

import pytest
import torch
import torch.distributed as dist
from torch import nn

from mmkd.models.losses.dist_utils import (compensate_ddp_average,
                                           gather_with_grad, get_world_size,
                                           scale_grad)

WORLD = 2
BATCH = 4  # global: 2 ranks x 2 samples


class _Net(nn.Module):
    """Two student 'layers' with equal widths (for the transformation)."""

    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(4, 3)
        self.lin2 = nn.Linear(3, 3)

    def forward(self, x):
        f1 = self.lin1(x)
        return f1, self.lin2(torch.tanh(f1))


def _data():
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = _Net().double()
    d = dict(
        x=torch.randn(BATCH, 4, generator=gen, dtype=torch.float64),
        t1=torch.randn(BATCH, 5, 2, 2, generator=gen, dtype=torch.float64),
        t2=torch.randn(BATCH, 5, 2, 2, generator=gen, dtype=torch.float64),
        t_emb=torch.randn(BATCH, 3, generator=gen, dtype=torch.float64),
        w=torch.randn(BATCH, 3, generator=gen, dtype=torch.float64))
    return net, d


def _cases():
    from mmkd.models.losses import dlkd_loss, irg_loss
    return {
        # two student layers matched to one teacher map
        'irg_edge': (irg_loss.IRGEdgeLoss(),
                     lambda f, d: ((f[0], f[1]), d['t1'])),
        'irg_transformation': (irg_loss.IRGTransformationLoss(),
                               lambda f, d: (f, (d['t1'], d['t2']))),
        'dlkd_corr': (dlkd_loss.DLKDLoss(align_weight=0, corr_weight=1),
                      lambda f, d: (f[1], d['t1'].mean((2, 3)))),
        # alignment is a per-rank mean: value averaged over the ranks
        'dlkd_both': (dlkd_loss.DLKDLoss(align_weight=2, corr_weight=1),
                      lambda f, d: (f[1], d['t_emb'])),
    }


def _run(model, net, x, data, case):
    loss_fn, args = _cases()[case]
    net.zero_grad()
    x = x.clone().requires_grad_()
    loss = loss_fn(*args(model(x), data))
    loss.backward()
    return dict(loss=loss.item(), x_grad=x.grad.clone(),
                grads={n: p.grad.clone()
                       for n, p in net.named_parameters()})


def _worker(rank, port, outdir):
    os.environ['GLOO_SOCKET_IFNAME'] = 'lo'
    torch.set_num_threads(1)
    dist.init_process_group(
        'gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank,
        world_size=WORLD, timeout=timedelta(seconds=60))
    try:
        out = dict(world=get_world_size())
        # unequal batches: rank 0 holds sample 0, rank 1 samples 1-3
        net, d = _data()
        full = d['x'][:, :3].clone()
        local = slice(0, 1) if rank == 0 else slice(1, 4)
        x = full[local].clone().requires_grad_()
        gathered = gather_with_grad(x)
        (gathered * d['w']).sum().backward()
        out['gathered'], out['gather_grad'] = gathered.detach(), x.grad
        # trailing dims that differ: a clear error on every rank, no hang
        try:
            gather_with_grad(torch.zeros(2, 3 + rank))
        except ValueError as e:
            out['mismatch'] = str(e)
        # the losses under DDP, 2 samples per rank
        sl = slice(2 * rank, 2 * rank + 2)
        local_data = {k: v[sl] for k, v in d.items()}
        model = nn.parallel.DistributedDataParallel(net)
        out['cases'] = {
            case: _run(model, net, local_data['x'], local_data, case)
            for case in _cases()
        }
        torch.save(out, os.path.join(outdir, f'rank{rank}.pt'))
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def ranks(tmp_path_factory):
    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip('torch.distributed with gloo is not available')
    outdir = str(tmp_path_factory.mktemp('dist'))
    # fork: the children inherit the imported modules (a spawned child
    # re-imports mmkd and mmseg, ~10 s on a busy machine); each child sets
    # one thread before any op
    methods = torch.multiprocessing.get_all_start_methods()
    torch.multiprocessing.start_processes(
        _worker, args=(_free_port(), outdir), nprocs=WORLD, join=True,
        start_method='fork' if 'fork' in methods else 'spawn')
    return [
        torch.load(os.path.join(outdir, f'rank{r}.pt'), weights_only=False)
        for r in range(WORLD)
    ]


def test_identity_without_process_group():
    assert not dist.is_initialized() and get_world_size() == 1
    x = torch.randn(3, 2, requires_grad=True)
    assert gather_with_grad(x) is x
    assert compensate_ddp_average(x) is x


def test_scale_grad():
    x = torch.randn(3, requires_grad=True)
    y = scale_grad(x, 3.0)
    torch.testing.assert_close(y, x)
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.full((3, ), 3.0))


def test_gather_unequal_batches(ranks):
    _, d = _data()
    full = d['x'][:, :3]
    for rank, out in enumerate(ranks):
        assert out['world'] == WORLD
        torch.testing.assert_close(out['gathered'], full)
        # gradient of the local slice only, not summed over ranks
        local = slice(0, 1) if rank == 0 else slice(1, 4)
        torch.testing.assert_close(out['gather_grad'], d['w'][local])


def test_gather_shape_mismatch_message(ranks):
    for out in ranks:
        msg = out['mismatch']
        assert 'rank 0: (2, 3)' in msg and 'rank 1: (2, 4)' in msg
        assert 'only dim 0 may differ' in msg


@pytest.mark.parametrize('case', list(_cases()))
def test_losses_match_single_process(ranks, case):
    net, d = _data()
    single = _run(net, net, d['x'], d, case)
    values = [out['cases'][case]['loss'] for out in ranks]
    if case == 'dlkd_both':
        # per-rank alignment means average to the global mean
        assert sum(values) / WORLD == pytest.approx(single['loss'])
    else:
        for v in values:  # every rank logs the global-batch loss
            assert v == pytest.approx(single['loss'], rel=1e-10)
    # DDP averaged the parameter gradients: the single-process gradient
    for out in ranks:
        for name, grad in single['grads'].items():
            torch.testing.assert_close(out['cases'][case]['grads'][name],
                                       grad)
    # inputs: world_size x the partial derivative of the local samples
    x_grads = torch.cat([out['cases'][case]['x_grad'] for out in ranks])
    torch.testing.assert_close(x_grads / WORLD, single['x_grad'])
    assert single['x_grad'].abs().sum() > 0
