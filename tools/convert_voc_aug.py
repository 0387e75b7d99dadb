"""Convert SBD masks to VOC2012/SegmentationClassAug and write the aug lists.

Example::

    python tools/convert_voc_aug.py data/VOCdevkit data/benchmark_RELEASE \
        --nproc 8

reads ``data/VOCdevkit/VOC2012`` (VOCtrainval_11-May-2012.tar) and
``data/benchmark_RELEASE/dataset/{cls,train.txt,val.txt}`` (SBD), writes
``VOC2012/SegmentationClassAug/*.png`` (mode 'L' class indices) and
``VOC2012/ImageSets/Segmentation/{trainaug,aug}.txt``.
"""
import argparse
import os.path as osp
import sys

try:
    import mmkd  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmkd.datasets.voc_aug import convert_voc_aug


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Build Pascal VOC 2012 aug annotations (SBD -> '
        'SegmentationClassAug, trainaug.txt, aug.txt)')
    p.add_argument('devkit_path', help='VOCdevkit dir (containing VOC2012)')
    p.add_argument('aug_path',
                   help='SBD benchmark_RELEASE dir (containing dataset/)')
    p.add_argument('-o', '--out-dir', '--out_dir', dest='out_dir',
                   help='mask output dir (default: '
                   'VOC2012/SegmentationClassAug)')
    p.add_argument('--nproc', type=int, default=1,
                   help='number of worker processes')
    p.add_argument('--strict', action='store_true',
                   help='fail instead of warning when counts differ from '
                   'the real data (10582 trainaug)')
    p.add_argument('--no-voc-masks', action='store_true',
                   help='do not copy VOC train/val masks from '
                   'SegmentationClass into the output dir')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        convert_voc_aug(
            args.devkit_path,
            args.aug_path,
            out_dir=args.out_dir,
            nproc=args.nproc,
            strict=args.strict,
            copy_voc_masks=not args.no_voc_masks)
    except (FileNotFoundError, RuntimeError) as e:
        sys.exit(f'error: {e}')


if __name__ == '__main__':
    main()
