"""Evaluate a model, a distiller's student, or an exported student."""
import argparse
import os
import os.path as osp
import sys

from mmengine.model import is_model_wrapper
from mmengine.runner import Runner

import mmkd  # noqa: F401  registers mmkd and its safe checkpoint loading
from mmkd.apis.student import (is_distiller_config, load_student,
                               student_eval_config)
from mmkd.datasets.imagenet_check import check_cls_datasets
from mmkd.utils.data_check import DatasetNotFoundError, check_datasets
from mmkd.utils.tool_utils import add_common_args, load_tool_config


def parse_args():
    parser = argparse.ArgumentParser(
        description='Test (and evaluate) a segmentor or a distilled student')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file or URL')
    parser.add_argument(
        '--work-dir', help='directory for the evaluation logs and metrics')
    parser.add_argument(
        '--out',
        type=str,
        help='directory to save output predictions for offline evaluation')
    parser.add_argument(
        '--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir', help='directory where painted images will be saved')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--tta', action='store_true', help='multi-scale + flip testing')
    add_common_args(parser)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = load_tool_config(args.config, args.cfg_options, args.work_dir,
                           args.launcher)
    if '://' not in args.checkpoint and not osp.isfile(args.checkpoint):
        sys.exit(f'error: checkpoint {args.checkpoint} does not exist')
    try:
        check_cls_datasets(cfg, loaders=('test_dataloader', ))
        check_datasets(cfg, loaders=('test_dataloader', ))
    except DatasetNotFoundError as err:
        sys.exit(f'error: {err}')
    # A distiller config evaluates its student: the teacher is neither
    # built nor downloaded, and only the student.* weights are loaded.
    distilled = is_distiller_config(cfg)
    if distilled:
        cfg = student_eval_config(cfg)
        cfg.load_from = None
    else:
        cfg.load_from = args.checkpoint

    if args.show or args.show_dir:
        hooks = cfg.default_hooks
        if 'visualization' not in hooks:
            sys.exit("error: --show/--show-dir need default_hooks."
                     "visualization=dict(type='SegVisualizationHook')")
        hooks.visualization.draw = True
        if args.show:
            hooks.visualization.show = True
            hooks.visualization.wait_time = args.wait_time
        if args.show_dir:
            cfg.visualizer.save_dir = args.show_dir

    if args.tta:
        if 'tta_pipeline' not in cfg or 'tta_model' not in cfg:
            sys.exit('error: --tta needs tta_pipeline and tta_model in the '
                     'config')
        cfg.test_dataloader.dataset.pipeline = cfg.tta_pipeline
        cfg.tta_model.module = cfg.model
        cfg.model = cfg.tta_model

    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    runner = Runner.from_cfg(cfg)
    if distilled:
        model = runner.model.module if is_model_wrapper(
            runner.model) else runner.model
        if args.tta:  # SegTTAModel wraps the student as .module
            model = model.module
        try:
            load_student(model, args.checkpoint)
        except (ValueError, RuntimeError) as err:
            sys.exit(f'error: {err}')
    runner.test()


if __name__ == '__main__':
    main()
