"""Export a distilled student: for segmentation a checkpoint + config plain
mmseg loads; for classification a torchvision ``state_dict``.

The teacher is never built or downloaded.

Example:
    python tools/export_student.py configs/ickd_voc.py \
        work_dirs/ickd_voc/iter_40000.pth work_dirs/ickd_voc/export
    # then, without mmkd:
    python -c "from mmseg.apis import init_model; init_model(\
'work_dirs/ickd_voc/export/student_config.py', \
'work_dirs/ickd_voc/export/student.pth')"
"""
import argparse
import sys

from mmengine.config import Config

import mmkd  # noqa: F401  safe checkpoint loading
from mmkd.apis import export_student
from mmkd.apis.cls_export import export_cls_student, is_cls_config
from mmkd.utils.tool_utils import add_common_args


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='the distillation config')
    parser.add_argument('checkpoint', help='a checkpoint of that distiller')
    parser.add_argument('out_dir', help='output directory')
    parser.add_argument(
        '--name', default='student', help='base name of the output files')
    add_common_args(parser)
    args = parser.parse_args()
    try:
        cfg = Config.fromfile(args.config)
        if args.cfg_options:
            cfg.merge_from_dict(args.cfg_options)
        export = export_cls_student if is_cls_config(cfg) else export_student
        ckpt, side = export(args.config, args.checkpoint, args.out_dir,
                            args.cfg_options, args.name)
    except (FileNotFoundError, ValueError, RuntimeError) as err:
        sys.exit(f'error: {err}')
    print(f'student checkpoint: {ckpt}\nstudent config:     {side}')


if __name__ == '__main__':
    main()
