"""mmkd classification quickstart: distillation on a CPU, in minutes.

Generates a synthetic shape-classification dataset in ImageFolder
(ImageNet) layout, trains a teacher once (cached), then for each seed the
student alone, the student distilled with ICKD-C and with KD, and prints
top-1 accuracy as mean ± std over the seeds. Every stage is an ordinary
mmengine run of a config in configs/imagenet/quickstart/ (the path
tools/train.py takes), with mmpretrain's datasets, pipelines and Accuracy.

    python tools/cls_quickstart.py                 # 3 seeds
    python tools/cls_quickstart.py --tiny          # seconds: pipeline check
    python tools/cls_quickstart.py --seeds 0       # one seed
    python tools/cls_quickstart.py --iters teacher=3000,student=1000
    python tools/cls_quickstart.py --data-only     # just generate the data

See docs/imagenet.md.
"""
import argparse
import os.path as osp
import sys

try:
    import mmkd  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmkd  # noqa: F401

from mmkd.apis.cls_quickstart import (CLS_QUICKSTART_DATA,
                                      CLS_QUICKSTART_METHODS,
                                      CLS_QUICKSTART_STAGES,
                                      CLS_QUICKSTART_TINY_DATA,
                                      DEFAULT_SEEDS, run_cls_quickstart)


def parse_args(argv=None):
    methods = [s for s in CLS_QUICKSTART_STAGES
               if s not in ('teacher', 'baseline')]
    p = argparse.ArgumentParser(
        description='Teacher -> student alone -> ICKD-C / KD students on '
        'synthetic ImageFolder data, with a mean ± std table')
    p.add_argument('--work-dir', default=None,
                   help='output root (default work_dirs/cls_quickstart, or '
                   'work_dirs/cls_quickstart_tiny with --tiny)')
    p.add_argument('--data-root', default=None,
                   help='where the dataset is generated and cached (default'
                   ' data/synthetic_cls, or data/synthetic_cls_tiny)')
    p.add_argument('--iters', default=None,
                   help="a scale of the configs' iterations ('0.5x') or "
                   "counts ('teacher=2500,student=1000')")
    p.add_argument('--seeds', type=int, nargs='+',
                   default=list(DEFAULT_SEEDS),
                   help='seeds of the student runs (default: %(default)s)')
    p.add_argument('--methods', nargs='+',
                   default=list(CLS_QUICKSTART_METHODS), choices=methods,
                   help='default: %(default)s')
    p.add_argument('--skip-teacher-cache', action='store_true',
                   help='retrain the teacher even if a cached one matches')
    p.add_argument('--tiny', action='store_true',
                   help='a few images and iterations (numbers mean nothing)')
    p.add_argument('--data-only', action='store_true',
                   help='generate the dataset and exit')
    p.add_argument('--threads', type=int, default=None,
                   help='torch CPU threads (default: torch\'s); use 1 on a '
                   'CPU shared with other jobs')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    suffix = '_tiny' if args.tiny else ''
    data_root = args.data_root or f'data/synthetic_cls{suffix}'
    if args.data_only:
        from mmkd.datasets.synthetic_cls import generate_synthetic_cls
        kwargs = CLS_QUICKSTART_TINY_DATA if args.tiny else \
            CLS_QUICKSTART_DATA
        print(generate_synthetic_cls(data_root, verbose=True, **kwargs))
        return
    run_cls_quickstart(
        work_dir=args.work_dir or f'work_dirs/cls_quickstart{suffix}',
        data_root=data_root,
        iters=args.iters,
        seeds=args.seeds,
        skip_teacher_cache=args.skip_teacher_cache,
        tiny=args.tiny,
        methods=args.methods,
        threads=args.threads)


if __name__ == '__main__':
    main()
