"""mmkd quickstart: prove distillation works, on a CPU, in minutes.

Generates the synthetic VOC-format dataset (cached), pretrains the
backbones on its object crops (cached), trains a DeepLabV3 teacher from its
pretrained backbone (cached in the work dir), fine-tunes the student alone
and with ICKD-S and KD (loss weights by each config's rule), evaluates all
of them and prints a table of mIoU, of the fraction of the teacher-student
gap each method closes, and diagnostics. A report (loss curves, mIoU bars,
CKA and gradient-ratio plots, inter-channel correlation heatmaps,
prediction overlays) is written to ``<work-dir>/report``.

    python tools/quickstart.py                      # 10-20 min on 2 CPU cores
    python tools/quickstart.py --tiny               # seconds: pipeline check
    python tools/quickstart.py --iters 0.5x         # half the iterations
    python tools/quickstart.py --iters student=1800 --seed 1
    python tools/quickstart.py --jobs 1             # students one at a time

Every stage is an ordinary mmengine run of a config in configs/quickstart/
(the same path as tools/train.py); see docs/quickstart.md.
"""
import argparse
import os.path as osp
import sys

try:
    import mmkd  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmkd  # noqa: F401

from mmkd.apis.quickstart import (QUICKSTART_DISTILL_STAGES,
                                  QUICKSTART_METHODS, parse_iters,
                                  redraw_report, run_quickstart)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Teacher -> student alone -> distilled students on '
        'synthetic VOC-format data, with a results table and a report')
    p.add_argument(
        '--work-dir',
        default=None,
        help='output root (default work_dirs/quickstart, or '
        'work_dirs/quickstart_tiny with --tiny); the teacher is cached in '
        '<work-dir>/teacher')
    p.add_argument(
        '--data-root',
        default=None,
        help='where the synthetic dataset is generated and cached (default '
        'data/synthetic_voc, or data/synthetic_voc_tiny with --tiny)')
    p.add_argument(
        '--iters',
        default=None,
        help="iterations: a scale of the configs' schedules ('0.5x', '2') "
        "or absolute counts ('teacher=600,student=300,pretext=500'; the "
        'baseline and the distilled students always get the same number)')
    p.add_argument(
        '--seed',
        type=int,
        default=0,
        help='seed of the student runs (baseline and distilled share it); '
        'the teacher keeps its own')
    p.add_argument(
        '--skip-teacher-cache',
        action='store_true',
        help='retrain the teacher even if a valid cached one exists')
    p.add_argument(
        '--tiny',
        action='store_true',
        help='a few images and iterations, to check the pipeline end to end '
        'in about a minute (the numbers mean nothing)')
    p.add_argument(
        '--methods',
        nargs='+',
        default=list(QUICKSTART_METHODS),
        choices=QUICKSTART_DISTILL_STAGES,
        help='distillation methods to run (default: %(default)s)')
    p.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch CPU threads of pretext, teacher and (with --jobs 1) '
        'the students (default: torch\'s, one per core), and of each '
        'student run with --jobs > 1 (default 1 there). On an idle '
        '2-core machine 2 threads train 1.4x faster than 1. Use 1 '
        'when other jobs share the CPU: a second thread then waits for a '
        'busy core and slows every step down)')
    p.add_argument(
        '--jobs',
        type=int,
        default=None,
        help='student runs trained at a time, each in its own process with '
        '--threads threads (default 1), its log in <work-dir>/<stage>/'
        'train.log (default: 2 on 2 or more cores; 1 trains them one after '
        'the other and logs to the console)')
    p.add_argument(
        '--no-report', action='store_true', help='skip the plots')
    p.add_argument(
        '--report-only',
        action='store_true',
        help='only redraw the plots of a finished run in --work-dir')
    args = p.parse_args(argv)
    try:
        parse_iters(args.iters)
    except ValueError as err:
        p.error(str(err))
    suffix = '_tiny' if args.tiny else ''
    if args.work_dir is None:
        args.work_dir = f'work_dirs/quickstart{suffix}'
    if args.data_root is None:
        args.data_root = f'data/synthetic_voc{suffix}'
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.report_only:
        for name, path in redraw_report(args.work_dir).items():
            print(f'{name}: {path}')
        return
    run_quickstart(
        work_dir=args.work_dir,
        data_root=args.data_root,
        iters=args.iters,
        seed=args.seed,
        skip_teacher_cache=args.skip_teacher_cache,
        tiny=args.tiny,
        methods=args.methods,
        report=not args.no_report,
        threads=args.threads,
        jobs=args.jobs)


if __name__ == '__main__':
    main()
