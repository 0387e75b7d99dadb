#!/usr/bin/env python
"""Cost of MGD's matching step (MatchingGuidedHook), CPU or GPU.

Prints, from one run:

1. the matching pass per image (preprocessing, teacher + student forward
   with feature recording, cost accumulation for every stage) against one
   plain teacher + student forward per image (preprocessing, both models
   in eval mode under ``torch.no_grad()``, ``mode='tensor'``), and their
   ratio; the issue's target is "no more than one teacher + student
   forward per image plus the solve". The pass is split into its two
   parts: ``distiller.extract`` (the distiller's teacher path, with its
   fast path, plus the recording) and the cost accumulation;
2. the solve: :func:`match_channels` on the accumulated cost of each stage,
   and on a random ``C_s x C_t = 512 x 2048`` cost (R101 layer4 against
   R18 layer4), many-to-one (AMP/RD: a ``2048 x 2048`` problem after
   tiling) and one-to-one (SM: ``512 x 2048``).

The models come from an MGD config (default: the R101 -> R18 AMP config)
with random weights (no checkpoint or pretrained download: speed does not
depend on the weights), on synthetic images of ``--size``. Times are
medians over ``--repeats`` after one warm-up (forward and pass
interleaved).

Example::

    python tools/benchmark_mgd.py                      # CPU defaults
    python tools/benchmark_mgd.py --device cuda --size 512 683 --images 16
"""
import argparse
import json
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..'))

from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402
from mmengine.structures import PixelData  # noqa: E402
from mmseg.structures import SegDataSample  # noqa: E402

import mmkd  # noqa: E402,F401
from mmkd.engine.hooks import MatchingGuidedHook  # noqa: E402
from mmkd.models.losses.matching import (  # noqa: E402
    channel_cost, match_channels)
from mmkd.models.losses.mgd_loss import MatchingGuidedLoss  # noqa: E402
from mmkd.registry import MODELS  # noqa: E402

DEFAULT_CONFIG = ('configs/mgd/mgd-amp_deeplabv3-r101_deeplabv3-r18_'
                  'voc12aug-512x512_40k.py')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--config', default=DEFAULT_CONFIG)
    p.add_argument('--device', default='cpu')
    p.add_argument('--size', type=int, nargs=2, default=[256, 256],
                   help='H W of the images (VOC val: about 512 x 683)')
    p.add_argument('--images', type=int, default=4,
                   help='images per timed pass (batch 1, as the hook)')
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--solve-repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=None)
    p.add_argument('--out', help='also write the results as JSON here')
    return p.parse_args(argv)


def strip_pretrained(cfg):
    if isinstance(cfg, dict):
        cfg.pop('init_cfg', None)
        if 'pretrained' in cfg:
            cfg['pretrained'] = None
        for value in cfg.values():
            strip_pretrained(value)
    elif isinstance(cfg, list):
        for value in cfg:
            strip_pretrained(value)
    return cfg


def build(config, device):
    cfg = Config.fromfile(config)
    model_cfg = strip_pretrained(cfg.model.to_dict())
    model_cfg['teacher_checkpoint'] = None
    for side in ('student', 'teacher'):  # SyncBN needs a process group
        text = json.dumps(model_cfg[side]).replace('"SyncBN"', '"BN"')
        model_cfg[side] = json.loads(text)
    distiller = MODELS.build(model_cfg).to(device)
    distiller.eval()
    return distiller


def batches(n, size, seed=0):
    gen = torch.Generator().manual_seed(seed)
    h, w = size
    out = []
    for _ in range(n):
        sample = SegDataSample(metainfo=dict(img_shape=(h, w),
                                             ori_shape=(h, w)))
        sample.gt_sem_seg = PixelData(data=torch.zeros(1, h, w).long())
        image = torch.randint(0, 256, (3, h, w), generator=gen,
                              dtype=torch.uint8)
        out.append(dict(inputs=[image], data_samples=[sample]))
    return out


def sync(device):
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize()


def timed(fn, repeats, device, warm_up=True):
    if warm_up:
        fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv=None):
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('mmkd')
    distiller = build(args.config, args.device)
    losses = {
        n: loss
        for n, loss in distiller.distill_losses.items()
        if isinstance(loss, MatchingGuidedLoss)
    }
    data = batches(args.images, args.size)

    @torch.no_grad()
    def plain_forward():
        for batch in data:
            inputs = distiller.data_preprocessor(batch, False)['inputs']
            distiller.teacher(inputs, mode='tensor')
            distiller.student(inputs, mode='tensor')

    hook = MatchingGuidedHook()
    result = {}

    def matching_pass():
        result['costs'], _ = hook.accumulate(distiller, data, losses)

    def extract_only():
        result['features'] = []
        for batch in data:
            batch = distiller.data_preprocessor(batch, False)
            result['features'].append(
                distiller.extract(batch['inputs'], batch['data_samples']))

    def cost_only():
        for s_feats, t_feats in result['features']:
            for name in losses:
                for s, t in zip(s_feats[name], t_feats[name]):
                    channel_cost(s, t)

    # interleaved, so that drifts of a shared machine hit all alike
    steps = dict(forward=plain_forward, matching_pass=matching_pass,
                 extract=extract_only, cost=cost_only)
    for fn in steps.values():
        fn()  # warm-up
    times = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, fn in steps.items():
            times[name].append(timed(fn, 1, args.device, False))
    median = {name: statistics.median(v) for name, v in times.items()}
    t_forward, t_pass = median['forward'], median['matching_pass']
    report = dict(
        config=args.config,
        device=str(args.device),
        cpu=platform.processor() or platform.machine(),
        torch_threads=torch.get_num_threads(),
        image_size=list(args.size),
        images=args.images,
        forward_ms_per_image=1e3 * t_forward / args.images,
        matching_pass_ms_per_image=1e3 * t_pass / args.images,
        pass_over_forward=t_pass / t_forward,
        extract_ms_per_image=1e3 * median['extract'] / args.images,
        cost_ms_per_image=1e3 * median['cost'] / args.images)
    if torch.device(args.device).type == 'cuda':
        report['gpu'] = torch.cuda.get_device_name()

    solves = []
    for name, loss in losses.items():
        for i, cost in enumerate(result['costs'][name]):
            cost = cost.cpu()
            t = timed(lambda: match_channels(cost, loss.matching_mode),
                      args.solve_repeats, 'cpu')
            solves.append(
                dict(item=name, stage=i, shape=list(cost.shape),
                     mode=loss.matching_mode, seconds=t))
    report['solve_accumulated'] = solves
    rng = np.random.default_rng(0)
    random_cost = rng.uniform(0, 4, (512, 2048))
    report['solve_random_512x2048'] = {
        mode: timed(lambda: match_channels(random_cost, mode),
                    args.solve_repeats, 'cpu')
        for mode in ('many_to_one', 'one_to_one')
    }
    print(json.dumps(report, indent=2))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(report, f, indent=2)
    return report


if __name__ == '__main__':
    main()
