#!/usr/bin/env python
"""Speed and memory benchmark of the ICKD and CCS losses (CPU or GPU).

Prints, from one run:

1. forward + backward time of the paper form for several grids against the
   explicit per-cell Gram implementation (``ickd_loss_reference``), with the
   ratios the performance targets are stated in;
2. the extra peak memory of one large forward + backward (default C=2048,
   32x32 grid on a 64x64 map, batch 8) against the size of the two feature
   maps, measured in a fresh subprocess;
3. the cost of the row-normalised (authors' code) form, fast and with
   explicit chunked Grams, including the extra peak memory of the latter;
4. CCS (channel correlation structure): forward + backward time of the
   intra-instance term per grid against its explicit per-cell cosine
   matrices (``ccs_intra_loss_reference``), and of the whole ``CCSLoss``
   (intra + inter), with the 32x32 / 1x1 ratio and the explicit / grid
   speedup.

``--sections`` runs a subset (``paper memory row ccs``; default: all).

Times (wall, or with ``--clock cpu`` the process's CPU time) are medians
over ``--repeats`` runs after one warm-up run (the explicit reference:
``--explicit-repeats`` runs, no warm-up). Memory on CPU
is the growth of the process's peak resident set size (Linux ``VmHWM``,
reset through ``/proc/self/clear_refs`` after the inputs are allocated;
``ru_maxrss`` of the fresh process when that is not possible) over the
resident size with the inputs allocated; it includes the student's
gradient. On CUDA it is ``torch.cuda.max_memory_allocated`` over the
memory allocated before the call.

Example::

    python tools/benchmark_ickd.py            # defaults, about 2 minutes
    python tools/benchmark_ickd.py --quick    # small smoke run
    python tools/benchmark_ickd.py --sections paper ccs
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from functools import partial

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from mmkd.models.losses.ccs_loss import (  # noqa: E402
    CCSLoss, ccs_intra_loss, ccs_intra_loss_reference)
from mmkd.models.losses.ickd_loss import (  # noqa: E402
    ickd_loss, ickd_loss_reference)

SECTIONS = ('paper', 'memory', 'row', 'ccs')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--channels', type=int, default=512)
    p.add_argument('--size', type=int, default=64, help='H = W of the map')
    p.add_argument('--batch', type=int, default=2)
    p.add_argument('--grids', type=int, nargs='+', default=[1, 4, 16, 32])
    p.add_argument('--explicit-grids', type=int, nargs='*', default=[1, 32],
                   help='grids timed with the explicit reference')
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--explicit-repeats', type=int, default=1)
    p.add_argument('--mem-channels', type=int, default=2048)
    p.add_argument('--mem-batch', type=int, default=8)
    p.add_argument('--mem-grid', type=int, default=32)
    p.add_argument('--row-grids', type=int, nargs='*', default=[1, 4, 16, 32])
    p.add_argument('--row-repeats', type=int, default=3)
    p.add_argument('--row-channel-grids', type=int, nargs='*', default=[],
                   help="extra grids timed with the row form's explicit "
                   "chunked Grams (impl='channel')")
    p.add_argument('--row-mem-grid', type=int, default=16,
                   help="grid of the row form's explicit chunked Grams whose "
                   'time and extra memory are measured in a subprocess')
    p.add_argument('--threads', type=int, default=None,
                   help='torch threads (default: torch default)')
    p.add_argument('--device', default='cpu')
    p.add_argument('--sections', nargs='+', choices=SECTIONS,
                   default=list(SECTIONS), help='parts of the report to run')
    p.add_argument('--clock', choices=('wall', 'cpu'), default='wall',
                   help='cpu: CPU time of the process (all threads), '
                   'steadier than wall time on a machine shared with other '
                   'jobs; CPU device only')
    p.add_argument('--quick', action='store_true',
                   help='small sizes, for a smoke test')
    p.add_argument('--memory-worker', default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.quick:
        args.channels, args.size, args.batch = 64, 16, 2
        args.grids, args.explicit_grids = [1, 4, 8], [1, 8]
        args.mem_channels, args.mem_batch, args.mem_grid = 128, 2, 8
        args.row_grids, args.row_channel_grids = [1, 8], [4]
        args.row_mem_grid = 8
        args.repeats = args.row_repeats = 2
    return args


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def make_inputs(B, C, H, W, device, seed=0):
    gen = torch.Generator(device=device).manual_seed(seed)
    s = torch.empty(B, C, H, W, device=device).normal_(generator=gen)
    t = torch.empty(B, C, H, W, device=device).normal_(generator=gen)
    return s.requires_grad_(), t


# time.perf_counter (wall) or time.process_time (--clock cpu)
CLOCK = time.perf_counter


def fwd_bwd_seconds(fn, s, t):
    """Time of one forward + backward pass of ``fn(s, t)``."""
    s.grad = None
    sync(s.device)
    start = CLOCK()
    fn(s, t).backward()
    sync(s.device)
    return CLOCK() - start


def time_interleaved(fns, s, t, repeats, warmup=True):
    """Median time of each of ``fns``, run round-robin so that a change of
    machine load hits all of them alike."""
    if warmup:
        for fn in fns:
            fwd_bwd_seconds(fn, s, t)
    times = [[] for _ in fns]
    for _ in range(repeats):
        for fn, ts in zip(fns, times):
            ts.append(fwd_bwd_seconds(fn, s, t))
    return [statistics.median(ts) for ts in times]


def form_of(p, C, normalize):
    """The form ``impl='auto'`` picks for a cell of p pixels."""
    if normalize == 'row':
        return 'pixel' if 8 * p <= C else 'channel'
    return 'pixel' if 3 * p <= C else 'channel'


# --------------------------------------------------------------------------
# memory, measured in a fresh process
# --------------------------------------------------------------------------
def _status_kib(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not in /proc/self/status')


def _reset_peak_rss():
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        return True
    except OSError:
        return False


def memory_worker(spec):
    cfg = json.loads(spec)
    if cfg['threads']:
        torch.set_num_threads(cfg['threads'])
    device = torch.device(cfg['device'])
    B, C, S, g = cfg['batch'], cfg['channels'], cfg['size'], cfg['grid']
    kwargs = dict(grid_size=g, normalize=cfg['normalize'], impl=cfg['impl'])
    # warm up kernels and thread pools on a tiny input
    s0, t0 = make_inputs(2, 8, 8, 8, device)
    ickd_loss(s0, t0, **dict(kwargs, grid_size=min(g, 8))).backward()
    del s0, t0
    s, t = make_inputs(B, C, S, S, device, seed=1)
    inputs = s.nbytes + t.nbytes
    sync(device)
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        method = 'torch.cuda.max_memory_allocated'
    else:
        base = _status_kib('VmRSS') * 1024
        if _reset_peak_rss():
            method = 'VmHWM after clear_refs'
        else:
            method = 'ru_maxrss of a fresh process'
    start = time.perf_counter()
    ickd_loss(s, t, **kwargs).backward()
    sync(device)
    seconds = time.perf_counter() - start
    if device.type == 'cuda':
        peak = torch.cuda.max_memory_allocated(device)
    elif method.startswith('VmHWM'):
        peak = _status_kib('VmHWM') * 1024
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps(dict(extra=peak - base, inputs=inputs, seconds=seconds,
                          method=method)))


def measure_memory(args, **cfg):
    spec = dict(threads=args.threads, device=args.device, **cfg)
    out = subprocess.run(
        [sys.executable, os.path.abspath(__file__), '--memory-worker',
         json.dumps(spec)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------
# report
# --------------------------------------------------------------------------
def mib(n):
    return f'{n / 2**20:.0f} MiB'


def cpu_name():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def main(argv=None):
    args = parse_args(argv)
    if args.memory_worker is not None:
        return memory_worker(args.memory_worker)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if args.clock == 'cpu':
        if device.type != 'cpu':
            raise SystemExit('--clock cpu measures CPU time: use it with '
                             '--device cpu')
        global CLOCK
        CLOCK = time.process_time
    B, C, S = args.batch, args.channels, args.size
    print('# ICKD and CCS loss benchmark')
    print(f'command: python tools/benchmark_ickd.py '
          f'{" ".join(sys.argv[1:])}'.rstrip())
    name = (cpu_name() if device.type == 'cpu' else
            torch.cuda.get_device_name(device))
    print(f'torch {torch.__version__}, device {device} ({name}), '
          f'threads {torch.get_num_threads()}, python '
          f'{platform.python_version()}')
    print(f'timing: {args.clock} clock, C={C}, H=W={S}, B={B}, float32, '
          f'forward+backward, median of {args.repeats} interleaved runs '
          f'after a warm-up '
          f'(explicit reference: {args.explicit_repeats}, no warm-up)')
    print('load average at start: ' + ' '.join(
        f'{x:.2f}' for x in os.getloadavg()))
    print()

    s, t = make_inputs(B, C, S, S, device)
    fast = {}
    if 'paper' in args.sections:
        fast = paper_section(args, s, t)
    if 'memory' in args.sections:
        memory_section(args)
    if 'row' in args.sections:
        row_section(args, s, t, fast)
    if 'ccs' in args.sections:
        ccs_section(args, s, t)
    print('load average at end: ' + ' '.join(
        f'{x:.2f}' for x in os.getloadavg()))


def paper_section(args, s, t):
    C, S = args.channels, args.size
    print('## 1. Paper form (normalize=None)')
    print()
    fast = dict(zip(args.grids, time_interleaved(
        [partial(ickd_loss, grid_size=g) for g in args.grids], s, t,
        args.repeats)))
    expl = {
        g: time_interleaved([partial(ickd_loss_reference, grid_size=g)], s,
                            t, args.explicit_repeats, warmup=False)[0]
        for g in args.explicit_grids
    }
    print('| grid | pixels/cell p | form (auto) | fast fwd+bwd | '
          'explicit fwd+bwd | explicit / fast |')
    print('|---|---|---|---|---|---|')
    for g in sorted(set(args.grids) | set(expl)):
        p = (S // g) * (S // g)
        cells = [f'{g}x{g}', str(p), form_of(p, C, None),
                 f'{fast[g] * 1e3:.1f} ms' if g in fast else '-',
                 f'{expl[g] * 1e3:.0f} ms' if g in expl else '-',
                 f'{expl[g] / fast[g]:.0f}x' if g in expl and g in fast
                 else '-']
        print('| ' + ' | '.join(cells) + ' |')
    print()
    g_min, g_max = min(args.grids), max(args.grids)
    print(f'ratio fast {g_max}x{g_max} / fast {g_min}x{g_min}: '
          f'{fast[g_max] / fast[g_min]:.2f} (target <= 1.2)')
    if g_max in expl:
        print(f'ratio explicit {g_max}x{g_max} / fast {g_max}x{g_max}: '
              f'{expl[g_max] / fast[g_max]:.0f} (target >= 10)')
    print()
    return fast


def memory_section(args):
    S = args.size
    print(f'## 2. Memory: C={args.mem_channels}, {args.mem_grid}x'
          f'{args.mem_grid} grid, {S}x{S} map, batch {args.mem_batch}')
    print()
    mem = measure_memory(args, batch=args.mem_batch,
                         channels=args.mem_channels, size=S,
                         grid=args.mem_grid, normalize=None, impl='auto')
    ratio = mem['extra'] / (2 * mem['inputs'])
    grams = (args.mem_batch * args.mem_grid**2 * args.mem_channels**2 * 4)
    print(f'two feature maps: {mib(mem["inputs"])}; extra peak memory of '
          f'forward+backward: {mib(mem["extra"])} = {ratio:.2f} x (2 x the '
          f'two maps) (target <= 1); time {mem["seconds"]:.2f} s; method: '
          f'{mem["method"]}')
    print(f'(the explicit form would hold {grams / 2**30:.0f} GiB of '
          f'float32 Grams per network)')
    print()


def row_section(args, s, t, fast):
    B, C, S = args.batch, args.channels, args.size
    print('## 3. Row-normalised form (normalize=\'row\')')
    print()
    print('| grid | p | impl | form | fwd+bwd | extra peak memory |')
    print('|---|---|---|---|---|---|')
    auto = time_interleaved(
        [partial(ickd_loss, grid_size=g, normalize='row')
         for g in args.row_grids], s, t, args.row_repeats)
    for g, sec in zip(args.row_grids, auto):
        p = (S // g) * (S // g)
        print(f'| {g}x{g} | {p} | auto | {form_of(p, C, "row")} | '
              f'{sec * 1e3:.0f} ms | - |')
    for g in args.row_channel_grids:
        p = (S // g) * (S // g)
        if g in args.row_grids and form_of(p, C, 'row') == 'channel':
            continue  # already timed above
        sec, = time_interleaved(
            [partial(ickd_loss, grid_size=g, normalize='row',
                     impl='channel')], s, t, 1, warmup=False)
        print(f'| {g}x{g} | {p} | channel | channel (explicit chunked Grams) '
              f'| {sec * 1e3:.0f} ms | - |')
    if args.row_mem_grid:
        g = args.row_mem_grid
        p = (S // g) * (S // g)
        mem = measure_memory(args, batch=B, channels=C, size=S, grid=g,
                             normalize='row', impl='channel')
        grams = B * g * g * C * C * 4
        print(f'| {g}x{g} | {p} | channel | channel (explicit chunked Grams) '
              f'| {mem["seconds"] * 1e3:.0f} ms | {mib(mem["extra"])} |')
        print()
        ratio = mem['seconds'] / fast[g] if g in fast else float('nan')
        print(f'explicit chunked Grams at {g}x{g}: {ratio:.0f} x the paper '
              f'form\'s time; extra peak memory {mib(mem["extra"])} where '
              f'the {B * g * g} Grams of one network alone take '
              f'{mib(grams)} unchunked (method: {mem["method"]})')
    print()


def ccs_section(args, s, t):
    C, S = args.channels, args.size
    print('## 4. CCS (channel correlation structure)')
    print()
    grids = args.grids
    timed = time_interleaved(
        [partial(ccs_intra_loss, grid_size=g) for g in grids] +
        [CCSLoss(grid_size=g) for g in grids], s, t, args.repeats)
    intra = dict(zip(grids, timed[:len(grids)]))
    whole = dict(zip(grids, timed[len(grids):]))
    expl = {
        g: time_interleaved(
            [partial(ccs_intra_loss_reference, grid_size=g)], s, t,
            args.explicit_repeats, warmup=False)[0]
        for g in args.explicit_grids
    }
    print('| grid | p | form (auto) | intra fwd+bwd | CCSLoss (intra + '
          'inter) fwd+bwd | explicit intra fwd+bwd | explicit / intra |')
    print('|---|---|---|---|---|---|---|')
    for g in sorted(set(grids) | set(expl)):
        p = (S // g) * (S // g)
        cells = [f'{g}x{g}', str(p), form_of(p, C, None),
                 f'{intra[g] * 1e3:.1f} ms' if g in intra else '-',
                 f'{whole[g] * 1e3:.1f} ms' if g in whole else '-',
                 f'{expl[g] * 1e3:.0f} ms' if g in expl else '-',
                 f'{expl[g] / intra[g]:.0f}x' if g in expl and g in intra
                 else '-']
        print('| ' + ' | '.join(cells) + ' |')
    print()
    g_min, g_max = min(grids), max(grids)
    print(f'CCS intra ratio {g_max}x{g_max} / {g_min}x{g_min}: '
          f'{intra[g_max] / intra[g_min]:.2f} (target <= 1.2); CCSLoss '
          f'(intra + inter): {whole[g_max] / whole[g_min]:.2f}')
    if g_max in expl:
        print(f'CCS explicit {g_max}x{g_max} / intra {g_max}x{g_max}: '
              f'{expl[g_max] / intra[g_max]:.0f} (target >= 10)')
    print()


if __name__ == '__main__':
    main()
