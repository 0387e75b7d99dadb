"""Config handling shared by the command-line tools in ``tools/``."""
import os.path as osp
from typing import Optional

from mmengine.config import Config


def load_tool_config(config: str,
                     cfg_options: Optional[dict] = None,
                     work_dir: Optional[str] = None,
                     launcher: str = 'none') -> Config:
    """Load a config the way mmseg's tools do.

    ``work_dir`` is chosen in this order: the argument, the config's own
    ``work_dir``, then ``./work_dirs/<config name>``.
    """
    if not osp.isfile(config):
        raise FileNotFoundError(f'config file {config} does not exist')
    cfg = Config.fromfile(config)
    cfg.launcher = launcher
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config))[0])
    return cfg


def add_common_args(parser) -> None:
    """Arguments every mmseg-style tool takes."""
    from mmengine.config import DictAction
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, as key=value pairs, e.g. '
        'model.teacher_checkpoint=teacher.pth train_cfg.max_iters=1000')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    # torch.distributed launchers pass --local-rank (>= 2.0) or --local_rank.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def strip_pretrained(cfg):
    """Drop ``Pretrained`` init configs and ``pretrained`` paths, in place.

    Used where weights come from elsewhere (an exported checkpoint) or do
    not matter (building or timing a model without network access).
    """
    if isinstance(cfg, dict):
        init_cfg = cfg.get('init_cfg')
        if isinstance(init_cfg, dict) and init_cfg.get('type') == 'Pretrained':
            cfg['init_cfg'] = None
        if cfg.get('pretrained') is not None:
            cfg['pretrained'] = None
        for value in cfg.values():
            strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_pretrained(value)
    return cfg
