"""List the layers of a config's models to write distill items against.

    python tools/inspect_layers.py CONFIG [--size H W] [--depth N]
                                   [--pairs METHOD] [--cfg-options ...]

CONFIG is a distiller config (teacher and student are listed side by side,
role pairs marked with what they need: a connector or a resize) or a plain
mmseg / classification config (its model is listed). The models are built
without pretrained weights (nothing is downloaded, the teacher checkpoint
is not loaded) and run once on a dummy batch at the configured crop size.
``--pairs METHOD`` prints distill items for the method as config text.
See docs/extending.md.
"""
import argparse
import sys

from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope

import mmkd  # noqa: F401  registers mmkd's modules
from mmkd.analysis import (METHODS, build_for_inspection, format_layers,
                           format_model, format_pairs, format_proposal,
                           input_size, inspect_model, model_configs,
                           pair_layers, propose)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='List candidate layers (shapes, channels, in-place ops) '
        'of the models of a config; propose distill items')
    parser.add_argument('config', help='distiller or model config file')
    parser.add_argument(
        '--size', type=int, nargs='+', metavar='N',
        help='input H W (or one number for a square); defaults to the '
        "config's data preprocessor size or training crop")
    parser.add_argument(
        '--depth', type=int, default=2,
        help='how many levels below the backbone to list (2: stages and '
        'their blocks)')
    parser.add_argument(
        '--pairs', choices=METHODS, metavar='METHOD',
        help=f'propose distill items for a method: {", ".join(METHODS)}')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings of the config, as key=value pairs')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmkd'))
    size, source = input_size(cfg, args.size)
    print(f'input: {size[0]} x {size[1]} ({source})\n')
    found = {}
    for label, model_cfg in model_configs(cfg).items():
        model = build_for_inspection(model_cfg)
        found[label] = inspect_model(model, size, label, args.depth)
    if 'model' in found:
        print(format_model(found['model']))
        if args.pairs:
            print('\n--pairs needs a distiller config (a teacher and a '
                  'student)', file=sys.stderr)
            return 2
        return 0
    teacher, student = found['teacher'], found['student']
    pairs = pair_layers(teacher, student)
    print(format_layers(teacher, student, pairs))
    print('\nrole pairs (teacher -> student):')
    print(format_pairs(pairs))
    if args.pairs:
        items, extra, notes = propose(args.pairs, pairs, student.task)
        print()
        print(format_proposal(args.pairs, items, extra, notes))
    return 0


if __name__ == '__main__':
    sys.exit(main())
