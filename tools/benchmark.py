"""Cost of distillation: every ratio of the performance issue, in one run.

Sections (all by default):

- ``ickd``: the ICKD loss itself (grid cost, fast vs explicit Grams,
  C=2048 memory, row-normalised chunks); runs ``tools/benchmark_ickd.py``.
- ``step``: a distillation training step vs the sum of a teacher forward
  (no grad) and a student training step, for the ICKD-S, KD and CWD VOC
  configs (target: <= 1.05x).
- ``fast-path``: the teacher's forward with each ``teacher_fast_path``
  option (channels_last, bf16 / fp16 autocast, torch.compile) vs fp32.

Timings are medians over ``--iters`` rounds after ``--warmup`` rounds; the
three measurements of a round are interleaved so drift hits them equally.
Models are built from the real configs with random weights (no download);
inputs are random images of ``--size`` pixels.

Example:
    python tools/benchmark.py --size 256 --batch 2 --iters 5
    python tools/benchmark.py --sections fast-path --compile --cpu-autocast
"""
import argparse
import copy
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

import mmkd  # noqa: F401
from mmkd.models.distillers.teacher_utils import TEACHER_FAST_PATH_DEFAULTS
from mmkd.registry import MODELS
from mmkd.utils.tool_utils import strip_pretrained

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
STEP_CONFIGS = (
    'configs/ickd_voc.py',
    'configs/kd/kd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py',
    'configs/cwd/cwd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py',
)


def build_distiller(config, size, **overrides):
    cfg = Config.fromfile(osp.join(ROOT, config))
    model_cfg = copy.deepcopy(cfg.model.to_dict())
    model_cfg['teacher_checkpoint'] = None
    model_cfg['probe_input_shape'] = (1, 3, size, size)
    model_cfg.update(overrides)
    strip_pretrained(model_cfg)
    init_default_scope('mmkd')
    return MODELS.build(model_cfg)


def random_batch(batch, size, num_classes, device):
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    inputs = torch.randn(batch, 3, size, size, device=device)
    samples = []
    for _ in range(batch):
        sample = SegDataSample(
            metainfo=dict(
                img_shape=(size, size),
                ori_shape=(size, size),
                pad_shape=(size, size)))
        sample.gt_sem_seg = PixelData(
            data=torch.randint(0, num_classes, (1, size, size), device=device))
        samples.append(sample)
    return inputs, samples


def sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, device):
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def step_section(args, device):
    print('\n## Distillation step vs teacher forward + student step')
    print(f'batch {args.batch}, {args.size}x{args.size}, median of '
          f'{args.iters} rounds after {args.warmup} warm-up\n')
    print('| config | teacher fwd (s) | student step (s) | distill step (s) '
          '| ratio | target |')
    print('|---|---|---|---|---|---|')
    for config in args.configs:
        model = build_distiller(config, args.size).to(device).train()
        num_classes = model.student.decode_head.num_classes
        inputs, samples = random_batch(args.batch, args.size, num_classes,
                                       device)
        student_opt = torch.optim.SGD(model.student.parameters(), lr=1e-4)
        distill_opt = torch.optim.SGD(
            [p for p in model.parameters() if p.requires_grad], lr=1e-4)

        def teacher():
            model.teacher_forward(inputs)
            model.teacher_recorder.reset()

        def student():
            losses = model.student.loss(inputs, samples)
            student_opt.zero_grad()
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            student_opt.step()

        def distill():
            losses = model.loss(inputs, samples)
            distill_opt.zero_grad()
            sum(v for k, v in losses.items() if 'loss' in k).backward()
            distill_opt.step()

        times = {'t': [], 's': [], 'd': []}
        for i in range(args.warmup + args.iters):
            round_times = (timed(teacher, device), timed(student, device),
                           timed(distill, device))
            if i >= args.warmup:
                for key, value in zip('tsd', round_times):
                    times[key].append(value)
        t, s, d = (statistics.median(times[k]) for k in 'tsd')
        ratio = d / (t + s)
        verdict = 'ok' if ratio <= 1.05 else 'MISSED'
        print(f'| {osp.basename(config)} | {t:.3f} | {s:.3f} | {d:.3f} | '
              f'{ratio:.3f}x | <= 1.05x {verdict} |', flush=True)
        model.remove_hooks()


def fast_path_section(args, device):
    print('\n## Teacher forward with the fast-path options')
    # the defaults with channels_last (on by default) turned off
    plain = dict(TEACHER_FAST_PATH_DEFAULTS, channels_last=False)
    options = [('fp32 (baseline)', plain),
               ('channels_last (default)', dict(plain, channels_last=True)),
               ('bf16 autocast', dict(plain, autocast='bf16')),
               ('fp16 autocast', dict(plain, autocast='fp16')),
               ('channels_last + bf16',
                dict(plain, channels_last=True, autocast='bf16'))]
    if args.compile:
        options += [('torch.compile', dict(plain, compile=True)),
                    ('channels_last + compile',
                     dict(plain, channels_last=True, compile=True))]
    if device.type == 'cpu' and not args.cpu_autocast:
        # A CPU without bf16/fp16 arithmetic emulates them: a ResNet101
        # forward took minutes (docs/performance.md), so they are opt-in.
        skipped = [n for n, o in options if o['autocast']]
        options = [(n, o) for n, o in options if not o['autocast']]
        print(f'(skipped on CPU, add --cpu-autocast to time them: '
              f'{", ".join(skipped)})')
    config = args.configs[0]
    print(f'teacher of {osp.basename(config)}, batch {args.batch}, '
          f'{args.size}x{args.size}\n')
    print('| option | teacher fwd (s) | speed-up | max rel. diff of the '
          'distilled feature |')
    print('|---|---|---|---|')
    base_time, reference = None, None
    state = None
    for name, opts in options:
        model = build_distiller(
            config, args.size, teacher_fast_path=opts).to(device).train()
        if state is None:
            state = model.state_dict()
        else:
            model.load_state_dict(state)
        torch.manual_seed(0)  # the same input for every option
        inputs, _ = random_batch(args.batch, args.size, 2, device)
        spec = model.distill_items[0].teacher_specs[0]
        samples = []
        try:
            for i in range(args.warmup + args.iters):
                model.teacher_forward(inputs)
                if i == 0:
                    feat = model.teacher_recorder.get(spec).float()
                model.teacher_recorder.reset()
                if i >= args.warmup:
                    samples.append(
                        timed(lambda: model.teacher_forward(inputs), device))
        except Exception as err:  # noqa: BLE001  report, do not stop
            print(f'| {name} | failed: {type(err).__name__}: '
                  f'{str(err).splitlines()[0][:80]} | | |')
            continue
        t = statistics.median(samples)
        if base_time is None:
            base_time, reference = t, feat
        diff = ((feat - reference).abs().max() /
                reference.abs().max().clamp_min(1e-12)).item()
        print(f'| {name} | {t:.3f} | {base_time / t:.2f}x | {diff:.2e} |',
              flush=True)
        model.remove_hooks()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--sections',
        nargs='+',
        default=['ickd', 'step', 'fast-path'],
        choices=['ickd', 'step', 'fast-path'])
    parser.add_argument('--configs', nargs='+', default=list(STEP_CONFIGS))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--size', type=int, default=256)
    parser.add_argument('--iters', type=int, default=5)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--threads', type=int, default=None)
    parser.add_argument(
        '--compile',
        action='store_true',
        help='also time torch.compile (compiling a ResNet101 takes minutes)')
    parser.add_argument(
        '--cpu-autocast',
        action='store_true',
        help='also time bf16/fp16 autocast on CPU (emulated on most CPUs: '
        'a ResNet101 forward takes minutes)')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available()
                        else 'cpu')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = (torch.cuda.get_device_name(device)
            if device.type == 'cuda' else platform.processor() or 'cpu')
    print(f'# mmkd benchmark\ntorch {torch.__version__}, device {device} '
          f'({name}), {torch.get_num_threads()} threads')
    if 'ickd' in args.sections:
        print('\n## ICKD loss (tools/benchmark_ickd.py)', flush=True)
        subprocess.run(
            [sys.executable,
             osp.join(ROOT, 'tools', 'benchmark_ickd.py')],
            check=True)
    if 'step' in args.sections:
        step_section(args, device)
    if 'fast-path' in args.sections:
        fast_path_section(args, device)


if __name__ == '__main__':
    main()
