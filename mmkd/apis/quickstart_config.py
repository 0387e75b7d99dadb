"""The quickstart's stages and their configs.

:data:`QUICKSTART_STAGES` names the config (in ``configs/quickstart/``) and
the label of every stage; :func:`stage_config` loads a stage's config with
the quickstart's overrides (data root, work dir, iterations, seed, teacher
checkpoint) the way ``tools/train.py`` loads a config with
``--cfg-options``.
"""
import os.path as osp
import uuid
from collections import OrderedDict
from typing import Dict, Optional, Union

from mmengine.config import Config

from .student import is_distiller_config

__all__ = [
    'QUICKSTART_STAGES', 'QUICKSTART_DISTILL_STAGES', 'QUICKSTART_METHODS',
    'EFFICACY_METHODS',
    'QUICKSTART_DATA', 'QUICKSTART_TINY_DATA', 'QUICKSTART_TINY_ITERS',
    'quickstart_config_dir', 'quickstart_config_path', 'parse_iters',
    'set_max_iters', 'stage_config', 'config_datasets'
]

#: Stages of the quickstart: the config (in ``configs/quickstart/``) and the
#: label used in tables and plots. ``teacher`` and ``baseline`` always run;
#: the others are distillation methods.
_PAIR = 'deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py'
QUICKSTART_STAGES = OrderedDict(
    teacher=dict(
        config='teacher_deeplabv3_r18-w32-d8_synvoc-64x64.py',
        label='Teacher (DeepLabV3 R18 w32)'),
    baseline=dict(
        config='baseline_deeplabv3_r18-w8-d8_synvoc-64x64.py',
        label='Student alone (DeepLabV3 R18 w8)'),
    ickd=dict(config='ickd-s4x4_' + _PAIR, label='ICKD-S 4x4'),
    ickd8=dict(config='ickd-s8x8_' + _PAIR, label='ICKD-S 8x8'),
    ickd2=dict(config='ickd-s2x2_' + _PAIR, label='ICKD-S 2x2',
               exploration=True),
    ickd1=dict(config='ickd-s1x1_' + _PAIR, label='ICKD-S 1x1',
               exploration=True),
    ickd_row=dict(config='ickd-s4x4-row_' + _PAIR,
                  label='ICKD-S 4x4, row-normalised', exploration=True),
    ickd_fixed=dict(config='ickd-s4x4-fixed_' + _PAIR,
                    label='ICKD-S 4x4, fixed connector', exploration=True),
    ickd_logits=dict(config='ickd-s4x4-logits_' + _PAIR,
                     label='ICKD-S 4x4 on the logits', exploration=True),
    ickd_post=dict(config='ickd-s4x4-postrelu_' + _PAIR,
                   label='ICKD-S 4x4, post-ReLU', exploration=True),
    ickd_l4=dict(config='ickd-s4x4-layer4_' + _PAIR,
                 label='ICKD-S 4x4 on layer4, pre-ReLU', exploration=True),
    ickd8_2l=dict(config='ickd-s8x8-2layers_' + _PAIR,
                  label='ICKD-S 8x8 on the bottleneck and layer4',
                  exploration=True),
    kd=dict(config='kd_' + _PAIR, label='KD'),
    kd_t4=dict(config='kd-t4_' + _PAIR, label='KD, tau 4',
               exploration=True),
    kd_r16=dict(config='kd-r16_' + _PAIR, label='KD, ratio 16',
                exploration=True),
    cwd=dict(config='cwd_' + _PAIR, label='CWD'),
    at=dict(config='at_' + _PAIR, label='AT'),
    fitnets=dict(config='fitnets_' + _PAIR, label='FitNets'),
    ccs=dict(config='ccs_' + _PAIR, label='CCS'),
    ccs_post=dict(config='ccs-postrelu_' + _PAIR, label='CCS, post-ReLU',
                  exploration=True),
    dlkd=dict(config='dlkd_' + _PAIR, label='DLKD (4x4 regions)'),
    dlkd_r2=dict(config='dlkd-regions2x2_' + _PAIR,
                 label='DLKD, 2x2 regions', exploration=True),
    dlkd_r8=dict(config='dlkd-regions8x8_' + _PAIR,
                 label='DLKD, 8x8 regions (every pixel)', exploration=True),
    dlkd_img=dict(config='dlkd-image_' + _PAIR,
                  label='DLKD, one embedding per image', exploration=True),
    irg=dict(config='irg_' + _PAIR,
             label='IRG (vertex per pixel + cosine edge over positions)'),
    irg_img=dict(config='irg-images_' + _PAIR,
                 label='IRG, vertex per pixel + edge over images',
                 exploration=True),
    irg_bal=dict(config='irg-balanced_' + _PAIR,
                 label='IRG, items balanced', exploration=True),
    irg_r4=dict(config='irg-regions4x4_' + _PAIR,
                label='IRG, edge graph over 4x4 region embeddings',
                exploration=True),
    irg_pos=dict(config='irg-positions_' + _PAIR,
                 label='IRG, edge graph over the logits\' positions',
                 exploration=True),
    irg_posl4=dict(config='irg-positions-layer4_' + _PAIR,
                   label='IRG, edge graph over layer4\'s positions',
                   exploration=True),
    irg_possq=dict(config='irg-positions-squared_' + _PAIR,
                   label='IRG, squared edge graph over the bottleneck\'s '
                   'positions', exploration=True),
    irg_poscl4=dict(config='irg-positions-cosine-layer4_' + _PAIR,
                    label='IRG, cosine edge graph over layer4\'s positions',
                    exploration=True),
    irg_pix=dict(config='irg-pixel_' + _PAIR,
                 label='IRG, per-pixel vertex', exploration=True),
    irg_3t=dict(config='irg-3terms_' + _PAIR,
                label='IRG, three terms (pooled vertex)', exploration=True),
    irg_vertex=dict(config='irg-vertex-only_' + _PAIR,
                    label='IRG vertex term alone', exploration=True),
    irg_edge=dict(config='irg-edge-only_' + _PAIR,
                  label='IRG edge term alone', exploration=True),
    irg_tran=dict(config='irg-transformation-only_' + _PAIR,
                  label='IRG transformation term alone', exploration=True),
    mgd_amp=dict(config='mgd-amp_' + _PAIR, label='MGD-AMP'),
    mgd_rd=dict(config='mgd-rd_' + _PAIR, label='MGD-RD'),
    mgd_sm=dict(config='mgd-sm_' + _PAIR, label='MGD-SM'),
)
#: Every distillation stage (all but ``teacher`` and ``baseline``).
QUICKSTART_DISTILL_STAGES = tuple(
    s for s in QUICKSTART_STAGES if s not in ('teacher', 'baseline'))
#: The methods of the efficacy table: every distillation stage but the
#: variants tried while investigating a result (``exploration=True``; run
#: them by name, docs/efficacy.md says why each was tried).
EFFICACY_METHODS = tuple(
    s for s in QUICKSTART_DISTILL_STAGES
    if not QUICKSTART_STAGES[s].get('exploration', False))
#: Distillation methods run by default, in order: the flagship ICKD-S and
#: the classic KD (what the efficacy issue asks the quickstart to show).
#: Any other stage runs by name (``--methods ickd kd mgd_amp``: MGD-AMP
#: adds about 2-4 minutes on a 2-core CPU); every method over seeds is
#: ``tools/benchmark_efficacy.py``'s job.
QUICKSTART_METHODS = ('ickd', 'kd')

#: The synthetic dataset of the full quickstart: 64 px images, fewer and
#: larger objects (``layout='large'``), background + 6 shapes (disc, ring,
#: triangle, rectangle, cross, star).
QUICKSTART_DATA = dict(num_train=800, num_val=200, img_size=64, seed=0,
                       layout='large', num_classes=7)
#: ``--tiny``: a handful of images and iterations, to test the pipeline.
QUICKSTART_TINY_DATA = dict(num_train=16, num_val=8, img_size=64, seed=0,
                            layout='large', num_classes=7)
QUICKSTART_TINY_ITERS = dict(teacher=2, student=2, pretext=2)


# --------------------------------------------------------------------------
# configs
# --------------------------------------------------------------------------
def quickstart_config_dir() -> str:
    """``configs/quickstart`` of the mmkd checkout."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = osp.join(root, 'configs', 'quickstart')
    if not osp.isdir(path):
        raise FileNotFoundError(
            f'quickstart configs not found at {path}: run the quickstart '
            f'from an mmkd checkout (pip install -e .)')
    return path


def quickstart_config_path(stage: str) -> str:
    """Path of the config file of ``stage`` (a key of QUICKSTART_STAGES)."""
    if stage not in QUICKSTART_STAGES:
        raise ValueError(f'unknown quickstart stage {stage!r}; choose from '
                         f'{list(QUICKSTART_STAGES)}')
    return osp.join(quickstart_config_dir(),
                    QUICKSTART_STAGES[stage]['config'])


def parse_iters(spec: Union[None, str, float, Dict[str, int]]) -> dict:
    """Parse the quickstart's ``--iters`` option.

    Forms:

    * ``None``: the configs' iterations;
    * a scale factor, ``'0.5'``, ``'0.5x'`` or ``2``: every stage's
      iterations times the factor (rounded, at least 1);
    * overrides, ``'teacher=400,student=200,pretext=300'`` (any key may be
      left out): absolute iterations of the teacher, of every student (the
      baseline and the distilled students always get the same number) and
      of the backbones' pretext pretraining.

    Returns:
        dict: ``dict(scale=float, teacher=int|None, student=int|None,
        pretext=int|None)``.
    """
    out = dict(scale=1.0, teacher=None, student=None, pretext=None)
    if spec is None:
        return out
    if isinstance(spec, dict):
        items = spec.items()
    elif isinstance(spec, (int, float)) and not isinstance(spec, bool):
        items = [('scale', spec)]
    else:
        text = str(spec).strip()
        if '=' in text:
            items = []
            for part in text.split(','):
                key, sep, value = part.partition('=')
                if not sep:
                    raise ValueError(f'bad --iters part {part!r}: use '
                                     f'teacher=N,student=M')
                items.append((key.strip(), value.strip()))
        else:
            items = [('scale', text[:-1] if text.endswith('x') else text)]
    for key, value in items:
        if key not in out:
            raise ValueError(
                f'--iters: unknown key {key!r}; use a scale (0.5x) or '
                f'teacher=N,student=M,pretext=P')
        try:
            value = float(value) if key == 'scale' else int(value)
        except (TypeError, ValueError):
            raise ValueError(f'--iters: {key}={value!r} is not a number') \
                from None
        if not value > 0:
            raise ValueError(f'--iters: {key} must be positive, got {value}')
        out[key] = value
    return out


def set_max_iters(cfg: Config, max_iters: int) -> None:
    """Set a config's training length consistently.

    Updates ``train_cfg.max_iters``, the validation interval (one
    validation, at the end), the ``end`` of every iteration-based
    parameter scheduler that ran to the old end (other milestones are
    scaled), the checkpoint interval, and the logging interval (at most
    10, so short runs still log).
    """
    max_iters = int(max_iters)
    if max_iters < 1:
        raise ValueError(f'max_iters must be >= 1, got {max_iters}')
    old = int(cfg.train_cfg.max_iters)
    cfg.train_cfg.max_iters = max_iters
    cfg.train_cfg.val_interval = max_iters
    for sched in cfg.get('param_scheduler', None) or []:
        if sched.get('by_epoch', True):
            continue
        for key in ('begin', 'end'):
            value = sched.get(key)
            if value is None:
                continue
            if value >= old:
                sched[key] = max_iters
            else:
                sched[key] = int(round(value * max_iters / old))
    hooks = cfg.get('default_hooks', {})
    if 'checkpoint' in hooks:
        hooks.checkpoint.interval = max_iters
    if 'logger' in hooks:
        hooks.logger.interval = max(1, min(10, max_iters // 5))


def config_datasets(cfg: Config) -> list:
    """The dataset configs a run reads: its train / val / test loaders'
    and those of its custom hooks (e.g. MGD's matching loader)."""
    out = [cfg[loader].dataset for loader in
           ('train_dataloader', 'val_dataloader', 'test_dataloader')
           if cfg.get(loader, None)]
    for hook in cfg.get('custom_hooks', None) or []:
        loader = hook.get('dataloader', None)
        if isinstance(loader, dict) and isinstance(
                loader.get('dataset', None), dict):
            out.append(loader['dataset'])
    return out


def _student_stage(stage: str) -> bool:
    return stage != 'teacher'


def stage_config(stage: str,
                 *,
                 data_root: str,
                 work_dir: str,
                 iters: Optional[dict] = None,
                 seed: Optional[int] = None,
                 teacher_checkpoint: Optional[str] = None,
                 config: Optional[str] = None,
                 pretrained: Optional[Dict[str, str]] = None,
                 dataset_info: Optional[dict] = None,
                 profile: Optional[Config] = None) -> Config:
    """Load a quickstart config with the quickstart's overrides.

    Args:
        stage (str): ``'teacher'``, ``'baseline'`` or a method.
        data_root (str): The ``VOC2012`` directory of the synthetic data.
        work_dir (str): The stage's work dir.
        iters (dict, optional): Output of :func:`parse_iters`.
        seed (int, optional): ``randomness.seed`` of a student stage (the
            teacher keeps its config's seed, so that its cache is shared).
        teacher_checkpoint (str, optional): For distillation stages.
        config (str, optional): Config file; defaults to the stage's.
        pretrained (dict, optional): ``teacher`` / ``student`` -> pretext
            backbone checkpoint (:mod:`mmkd.apis.pretext`): the backbone
            of the stage's trained model starts from it.
        dataset_info (dict, optional): :func:`~mmkd.apis.efficacy_data.
            inspect_voc` of the data: classes, heads and class-balanced
            cross-entropy weights are fitted to it.
        profile (Config, optional): A profile of the protocol
            (:func:`~mmkd.apis.quickstart_profile.load_profile`): models,
            data pipelines and loaders are rewritten to it first.
    """
    from mmkd.utils.tool_utils import load_tool_config

    config = config or quickstart_config_path(stage)
    cfg = load_tool_config(config, work_dir=work_dir)
    if profile is not None:
        from .quickstart_profile import apply_profile
        apply_profile(cfg, stage, profile)
    for dataset in config_datasets(cfg):
        dataset.data_root = data_root
    iters = iters or parse_iters(None)
    default = int(cfg.train_cfg.max_iters)
    key = 'student' if _student_stage(stage) else 'teacher'
    n = iters.get(key) or max(1, int(round(default * iters['scale'])))
    if n != default:
        set_max_iters(cfg, n)
    if seed is not None and _student_stage(stage):
        cfg.randomness = dict(cfg.get('randomness', None) or {}, seed=seed)
    if is_distiller_config(cfg):
        if teacher_checkpoint is None:
            raise ValueError(f'stage {stage!r} distils: pass the teacher '
                             f'checkpoint')
        cfg.model.teacher_checkpoint = teacher_checkpoint
    if dataset_info is not None:
        from .efficacy_data import apply_dataset
        apply_dataset(cfg, dataset_info)
    if pretrained:
        from .pretext import set_pretrained
        trained = cfg.model.student if is_distiller_config(
            cfg) else cfg.model
        role = 'student' if _student_stage(stage) else 'teacher'
        if pretrained.get(role):
            set_pretrained(trained, pretrained[role])
    # Several runners live in this one process: give each its own
    # visualizer and message hub (mmengine keeps them by name, and a
    # reused visualizer would write into the previous run's log dir).
    tag = f'quickstart_{stage}_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = tag
    if isinstance(cfg.get('visualizer', None), dict):
        cfg.visualizer.name = tag
    return cfg
