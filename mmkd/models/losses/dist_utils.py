"""Distributed helpers for relation losses (batch graphs over all GPUs).

Relation losses (IRG edge and transformation, DLKD correlation, CCS) compare
samples of a batch with one another. At segmentation batch sizes (2-4
images per GPU) the per-GPU graph is tiny, so these losses gather the
per-sample embeddings of every process and build the graph over the
*global* batch.

Gradient convention (read this before using :func:`gather_with_grad`):

* :func:`gather_with_grad` keeps the gradient of the local part only (the
  local slice of its output *is* the input; the other ranks' slices are
  detached copies). Every rank computes the same global loss ``L`` from
  the same gathered tensor, and backward gives each rank the exact partial
  derivative ``dL/dz_r`` of its own samples ``z_r``, the other ranks'
  samples held fixed.
* The full gradient is the sum over ranks, ``dL/dtheta = sum_r
  dz_r/dtheta^T dL/dz_r``. ``DistributedDataParallel`` (and mmengine's
  ``MMDistributedDataParallel``) *averages* parameter gradients over the
  ``W`` ranks, which would give ``dL/dtheta / W``.
* So a loss computed on gathered tensors passes its value through
  :func:`compensate_ddp_average`: the value is unchanged (it logs the
  global-batch loss, the same number a single process would log on the
  whole batch) and its gradient is multiplied by ``W``. After DDP's
  average the update equals the single-process gradient on the global
  batch, whatever the per-rank batch sizes. Terms computed per rank
  (per-sample means such as DLKD's alignment or IRG's vertex term) need no
  compensation: their DDP average already is the global mean when the
  ranks hold equal batches, as for the task loss.
"""
from typing import List

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = [
    'get_world_size', 'gather_with_grad', 'scale_grad',
    'compensate_ddp_average'
]

# Shape exchange: ndim, up to _MAX_DIMS sizes, a dtype code.
_MAX_DIMS = 8
_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16,
           torch.int64, torch.int32, torch.uint8, torch.bool)


def get_world_size() -> int:
    """Number of processes of the default group; 1 when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def _meta(x: Tensor) -> Tensor:
    if x.ndim > _MAX_DIMS or x.ndim == 0:
        raise ValueError(
            f'gather_with_grad gathers tensors with 1 to {_MAX_DIMS} dims '
            f'along dim 0, got shape {tuple(x.shape)}; reshape it to '
            f'B x ... first')
    code = _DTYPES.index(x.dtype) if x.dtype in _DTYPES else -1
    values = [x.ndim] + list(x.shape) + [-1] * (_MAX_DIMS - x.ndim) + [code]
    return torch.tensor(values, dtype=torch.long, device=x.device)


def _describe(meta: List[int]) -> str:
    ndim, code = meta[0], meta[-1]
    dtype = _DTYPES[code] if 0 <= code < len(_DTYPES) else 'other dtype'
    return f'{tuple(meta[1:1 + ndim])} {dtype}'


def gather_with_grad(x: Tensor) -> Tensor:
    """All-gather ``x`` along dim 0, keeping the gradient of the local part.

    The output is the concatenation, in rank order, of every process's
    ``x``. The local slice is ``x`` itself (gradients flow back to it);
    the other slices are detached copies. Batch sizes may differ between
    ranks (sizes are exchanged first, tensors padded to the largest batch
    and trimmed after the gather); all other dims and the dtype must
    agree. See the module docstring for how to scale the gradient of a
    loss computed on the result (:func:`compensate_ddp_average`).

    Identity when ``torch.distributed`` is unavailable, not initialised, or
    the world size is 1. Every rank must call it (it is a collective).

    Args:
        x (Tensor): ``B_r x ...`` on this rank (``B_r`` may be 0).

    Returns:
        Tensor: ``(sum_r B_r) x ...``.

    Raises:
        ValueError: ``x`` is 0-D or has more than 8 dims, or the ranks'
            tensors differ in a dim other than 0 or in dtype (the message
            lists every rank's shape).
    """
    world = get_world_size()
    if world == 1:
        return x
    rank = dist.get_rank()
    meta = _meta(x)
    metas = [torch.empty_like(meta) for _ in range(world)]
    dist.all_gather(metas, meta)
    metas = [m.tolist() for m in metas]
    mine = metas[rank]
    bad = [r for r, m in enumerate(metas)
           if m[0] != mine[0] or m[2:] != mine[2:]]
    if bad:
        shapes = ', '.join(f'rank {r}: {_describe(m)}'
                           for r, m in enumerate(metas))
        raise ValueError(
            f'gather_with_grad: the ranks hold tensors that differ beyond '
            f'the batch dim ({shapes}); every rank must give the same '
            f'feature shape and dtype (only dim 0 may differ)')
    sizes = [m[1] for m in metas]
    largest = max(sizes)
    with torch.no_grad():
        padded = x.detach()
        if x.shape[0] < largest:
            pad = x.new_zeros((largest - x.shape[0], ) + tuple(x.shape[1:]))
            padded = torch.cat([padded, pad])
        padded = padded.contiguous()
        parts = [torch.empty_like(padded) for _ in range(world)]
        dist.all_gather(parts, padded)
    parts = [p[:n] for p, n in zip(parts, sizes)]
    parts[rank] = x
    return torch.cat(parts)


class _ScaleGrad(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x, factor):
        ctx.factor = factor
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


def scale_grad(x: Tensor, factor: float) -> Tensor:
    """Return ``x`` unchanged; its gradient is multiplied by ``factor``."""
    if factor == 1:
        return x
    return _ScaleGrad.apply(x, float(factor))


def compensate_ddp_average(loss: Tensor) -> Tensor:
    """Undo DDP's gradient average for a loss computed on gathered tensors.

    Same value; gradient times the world size (identity when not
    distributed). Apply it once to a loss built from
    :func:`gather_with_grad` outputs so that DDP's averaged update equals
    the single-process gradient of the loss on the global batch.
    """
    return scale_grad(loss, get_world_size())
