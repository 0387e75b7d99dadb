"""Train a segmentor or distil a student (mmseg's train.py, plus mmkd)."""
import argparse
import logging
import os
import sys

from mmengine.logging import print_log
from mmengine.runner import Runner

import mmkd  # noqa: F401  registers mmkd and its safe checkpoint loading
from mmkd.engine import prepare_cpu_distributed
from mmkd.registry import RUNNERS
from mmkd.datasets.imagenet_check import check_cls_datasets
from mmkd.utils.data_check import DatasetNotFoundError, check_datasets
from mmkd.utils.tool_utils import add_common_args, load_tool_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Train a segmentor or distil a student into one')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        action='store_true',
        default=False,
        help='resume from the latest checkpoint in the work_dir automatically')
    parser.add_argument(
        '--amp',
        action='store_true',
        default=False,
        help='enable automatic-mixed-precision training')
    add_common_args(parser)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    try:
        check_cls_datasets(cfg)
        check_datasets(cfg)
    except DatasetNotFoundError as err:
        print(f'error: {err}', file=sys.stderr)
        sys.exit(1)

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper == 'AmpOptimWrapper':
            print_log(
                'AMP training is already enabled in your config.',
                logger='current',
                level=logging.WARNING)
        elif optim_wrapper != 'OptimWrapper':
            sys.exit(f'error: --amp needs optim_wrapper.type=OptimWrapper, '
                     f'got {optim_wrapper}')
        else:
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.loss_scale = 'dynamic'

    cfg.resume = args.resume
    # several processes without GPUs: gloo, no device_ids, SyncBN -> BN
    prepare_cpu_distributed(cfg)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    runner.train()


if __name__ == '__main__':
    main()
