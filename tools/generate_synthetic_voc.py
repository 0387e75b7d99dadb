"""Generate mmkd's synthetic dataset in Pascal VOC layout.

Example::

    python tools/generate_synthetic_voc.py --out data/synthetic_voc \
        --num-train 600 --num-val 150 --size 128 --seed 0

writes ``data/synthetic_voc/VOC2012/{JPEGImages,SegmentationClass,
ImageSets/Segmentation/{train,val}.txt,meta.json}``; a second run with the
same arguments does nothing.
"""
import argparse
import os.path as osp
import sys

try:
    import mmkd  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mmkd.datasets.synthetic_voc import (SYNTHETIC_CLASSES,
                                         generate_synthetic_voc,
                                         load_synthetic_meta)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Generate a synthetic segmentation dataset in Pascal '
        'VOC layout (shape-defined classes, cluttered backgrounds)')
    p.add_argument('--out', default='data/synthetic_voc',
                   help='output root; the dataset goes to <out>/VOC2012')
    p.add_argument('--num-train', type=int, default=600)
    p.add_argument('--num-val', type=int, default=150)
    p.add_argument('--size', type=int, default=128, help='image side (px)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-classes', type=int, default=len(SYNTHETIC_CLASSES),
                   help='classes incl. background (prefix of '
                   f'{", ".join(SYNTHETIC_CLASSES)})')
    p.add_argument('--no-ignore-border', action='store_true',
                   help='do not mark object outlines as 255 (void)')
    p.add_argument('--border-width', type=int, default=None,
                   help='void band width in px (default: size/128, >= 1)')
    p.add_argument('--overwrite', action='store_true',
                   help='regenerate even if a matching dataset exists')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    voc_dir = generate_synthetic_voc(
        args.out,
        num_train=args.num_train,
        num_val=args.num_val,
        img_size=args.size,
        seed=args.seed,
        num_classes=args.num_classes,
        ignore_border=not args.no_ignore_border,
        border_width=args.border_width,
        overwrite=args.overwrite,
        verbose=True)
    meta = load_synthetic_meta(voc_dir)
    train = meta['stats']['train']['pixel_counts']
    total = sum(train.values()) + meta['stats']['train']['ignore_pixels']
    print(f'data_root: {voc_dir}')
    print('train pixel share: ' + ', '.join(
        f'{c} {100 * n / max(total, 1):.2f}%' for c, n in train.items()))


if __name__ == '__main__':
    main()
