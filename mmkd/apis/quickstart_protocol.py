"""The efficacy protocol shared by the quickstart and the benchmark.

1. **Data**: mmkd's synthetic VOC-format data (generated once), or any
   dataset in the Pascal VOC layout (``voc_dir``; read, never written).
   Its classes and training-split statistics come from
   :func:`~mmkd.apis.efficacy_data.inspect_voc`.
2. **Pretext**: the teacher's and the student's backbones are pretrained
   once on the dataset's object-crop classification pretext
   (:mod:`mmkd.apis.pretext`, the ImageNet analogue; cached).
3. **Teacher**: trained long from its pretrained backbone (cached).
4. **Students**: fine-tuned from the pretrained backbone, alone and
   distilled, same recipe and seed; each distillation config's loss weight
   is set by its stated rule on the training split
   (:func:`~mmkd.apis.efficacy_weights.apply_weight_rule`), and a
   :class:`~mmkd.apis.efficacy_hooks.GradRatioHook` logs the distillation
   / task gradient ratio during training.
"""
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional

from .efficacy_data import (check_predictions, inspect_voc,
                            repeat_factor_split)
from .quickstart_cache import (load_teacher_cache, teacher_cache_key,
                               write_teacher_cache)
from .quickstart_config import (QUICKSTART_DATA, QUICKSTART_TINY_DATA,
                                stage_config)
from .quickstart_results import StageResult
from .quickstart_train import train_stage
from .student import is_distiller_config

__all__ = ['Protocol', 'prepare_data', 'prepare_protocol', 'protocol_config',
           'student_config', 'teacher_dir_name', 'train_student']

Logger = Callable[[str], None]


@dataclass
class Protocol:
    """Data, pretrained backbones and teacher of one efficacy run."""
    voc_dir: str
    info: dict
    pretrained: Dict[str, str]
    teacher: StageResult
    synthetic: bool = True
    pretext: Dict[str, dict] = field(default_factory=dict)
    teacher_seed: Optional[int] = None
    #: The protocol's profile (:mod:`~mmkd.apis.quickstart_profile`);
    #: None: the quickstart's own sizes and models.
    profile: Optional[object] = None


def prepare_data(work_dir: str, data_root: str = 'data/synthetic_voc',
                 voc_dir: Optional[str] = None, tiny: bool = False,
                 log: Logger = print, banner: Optional[Logger] = None,
                 data_kwargs: Optional[dict] = None):
    """Step 1 of the protocol: the dataset (generated, or ``voc_dir`` as
    it is), its classes and the class-balanced training list in
    ``<work_dir>/data``. ``data_kwargs``: the generator's arguments
    (default: the quickstart's, or its tiny ones with ``tiny``).

    Returns:
        tuple: ``(voc_dir, info, synthetic)``.
    """
    from mmkd.datasets.synthetic_voc import generate_synthetic_voc
    banner = banner or log
    synthetic = voc_dir is None
    if synthetic:
        data_kwargs = dict(data_kwargs or (
            QUICKSTART_TINY_DATA if tiny else QUICKSTART_DATA))
        banner(f'synthetic VOC-format data in {data_root} '
               f"({data_kwargs['num_train']} train / "
               f"{data_kwargs['num_val']} val, {data_kwargs['img_size']}px; "
               'generated once, then cached)')
        voc_dir = generate_synthetic_voc(data_root, verbose=True,
                                         workers=_data_workers(),
                                         **data_kwargs)
    else:
        voc_dir = osp.abspath(voc_dir)
        banner(f'dataset {voc_dir} (Pascal VOC layout; read only)')
    info = inspect_voc(voc_dir)
    info['train_list'] = repeat_factor_split(
        voc_dir, osp.join(work_dir, 'data', 'train_balanced.txt'))
    log(f"{info['num_classes']} classes ({', '.join(info['classes'])}); "
        f"{info['num_train']} train / {info['num_val']} val images")
    return voc_dir, info, synthetic


def prepare_protocol(work_dir: str,
                     data_root: str = 'data/synthetic_voc',
                     voc_dir: Optional[str] = None,
                     tiny: bool = False,
                     iters: Optional[dict] = None,
                     skip_teacher_cache: bool = False,
                     teacher_seed: Optional[int] = None,
                     log: Logger = print,
                     banner: Optional[Logger] = None,
                     profile=None) -> Protocol:
    """Steps 1-3 of the protocol (see the module docstring).

    Args:
        work_dir (str): Holds ``pretext/`` and ``teacher/`` (the caches).
        data_root (str): Where the synthetic data is generated.
        voc_dir (str, optional): An existing VOC-layout dataset (the
            directory with ``JPEGImages``, ``SegmentationClass`` and
            ``ImageSets/Segmentation``) to use instead.
        tiny (bool): The tiny synthetic dataset.
        iters (dict): :func:`~mmkd.apis.quickstart_config.parse_iters`.
        skip_teacher_cache (bool): Retrain the teacher.
        teacher_seed (int, optional): The teacher's ``randomness.seed``
            (default: its config's). Another seed than the config's trains
            another teacher of the same recipe from the same pretext
            backbones, cached in ``teacher_seed<k>/``
            (:func:`teacher_dir_name`).
        profile (Config, optional): The protocol at other sizes and models
            (:func:`~mmkd.apis.quickstart_profile.load_profile`): its data,
            pretext backbones, teacher and students.
    """
    from mmkd.datasets.synthetic_voc import load_synthetic_meta

    from .pretext import prepare_backbones
    from .quickstart_profile import profile_data
    banner = banner or log
    voc_dir, info, synthetic = prepare_data(work_dir, data_root, voc_dir,
                                            tiny, log, banner,
                                            profile_data(profile, tiny))

    banner('pretext: backbones pretrained on object crops of the train '
           'split (the ImageNet analogue; cached)')
    pretext = prepare_backbones(voc_dir, work_dir, info['num_classes'],
                                iters=(iters or {}).get('pretext'), log=log,
                                profile=profile)
    pretrained = {k: v['checkpoint'] for k, v in pretext.items()}

    cfg = stage_config('teacher', data_root=voc_dir, work_dir=work_dir,
                       iters=iters, pretrained=pretrained, dataset_info=info,
                       profile=profile)
    default_seed = cfg.get('randomness', {}).get('seed')
    if teacher_seed is None:
        teacher_seed = default_seed
    teacher_dir = osp.join(work_dir,
                           teacher_dir_name(teacher_seed, default_seed))
    cfg.work_dir = teacher_dir
    cfg.randomness = dict(cfg.get('randomness', None) or {},
                          seed=teacher_seed)
    meta = load_synthetic_meta(voc_dir) if synthetic else None
    key = teacher_cache_key(cfg, dict(meta or {}, inspected=info))
    cached = None if skip_teacher_cache else load_teacher_cache(
        teacher_dir, key)
    if cached is not None:
        banner(f'teacher: using the cached teacher {cached["checkpoint"]} '
               f"(mIoU {cached['metrics']['mIoU']:.2f})")
        teacher = StageResult(
            stage='teacher', config=cfg.filename, work_dir=teacher_dir,
            checkpoint=cached['checkpoint'], metrics=cached['metrics'],
            log_dir=cached['log_dir'], max_iters=cached.get('max_iters', 0),
            train_time_s=cached.get('train_time_s', 0.0), cached=True)
    else:
        under = '' if profile is None else \
            f' under the profile {profile.name}'
        banner(f'teacher: training {osp.basename(cfg.filename)}{under} for '
               f'{cfg.train_cfg.max_iters} iterations from its pretrained '
               'backbone (cached afterwards)')
        teacher = train_stage('teacher', cfg)
        write_teacher_cache(teacher_dir, key, teacher)
    warn = check_predictions(teacher.metrics, info['num_classes'], 'teacher')
    if warn:
        log('WARNING: ' + warn)
    return Protocol(voc_dir=voc_dir, info=info, pretrained=pretrained,
                    teacher=teacher, synthetic=synthetic, pretext=pretext,
                    teacher_seed=teacher_seed, profile=profile)


def _data_workers() -> int:
    """Processes that render the synthetic data: the CPUs this process may
    use, at most 16 (the files are the same for any number)."""
    import os
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        n = os.cpu_count() or 1
    return max(1, min(16, n))


def teacher_dir_name(seed: Optional[int], default_seed: Optional[int]) -> str:
    """``teacher`` for the config's own seed (the quickstart's cache),
    ``teacher_seed<k>`` for another."""
    return 'teacher' if seed == default_seed else f'teacher_seed{seed}'


def protocol_config(stage: str, proto: Protocol, work_dir: str,
                    iters: Optional[dict] = None, seed: int = 0,
                    grad_ratio: Optional[float] = None):
    """A stage's config under the protocol before its weight rule is
    applied (what a run's cache key is computed from): data, teacher,
    pretrained backbones, and ``grad_ratio`` in place of the rule's ratio
    (for a sweep: :mod:`~mmkd.apis.efficacy_sweep`)."""
    cfg = stage_config(
        stage, data_root=proto.voc_dir, work_dir=work_dir, iters=iters,
        seed=seed, teacher_checkpoint=proto.teacher.checkpoint,
        pretrained=proto.pretrained, dataset_info=proto.info,
        profile=proto.profile)
    if grad_ratio is not None and cfg.get('distill_weight_rule', None):
        cfg.distill_weight_rule = dict(cfg.distill_weight_rule,
                                       grad_ratio=float(grad_ratio))
    return cfg


def student_config(stage: str, proto: Protocol, work_dir: str,
                   iters: Optional[dict] = None, seed: int = 0,
                   grad_interval: Optional[int] = None, log: Logger = print,
                   grad_ratio: Optional[float] = None):
    """A student stage's config under the protocol, its loss weights set by
    the config's rule (``grad_ratio`` replaces the rule's ratio, for a
    sweep: :mod:`~mmkd.apis.efficacy_sweep`). Returns ``(cfg, rule)``
    (rule None for the baseline)."""
    from .efficacy_weights import apply_weight_rule
    cfg = protocol_config(stage, proto, work_dir, iters, seed, grad_ratio)
    rule = apply_weight_rule(cfg, seed=seed, log=log)
    if is_distiller_config(cfg):
        from . import efficacy_hooks  # noqa: F401  registers the hook
        n = grad_interval or max(1, int(cfg.train_cfg.max_iters) // 10)
        cfg.custom_hooks = list(cfg.get('custom_hooks', None) or []) + [
            dict(type='GradRatioHook', interval=n)
        ]
    return cfg, rule


def train_student(stage: str, proto: Protocol, work_dir: str,
                  iters: Optional[dict] = None, seed: int = 0,
                  log: Logger = print) -> StageResult:
    """Train one student stage under the protocol (see
    :func:`student_config`); the rule's outcome and any one-class warning
    go to ``result.extra``."""
    cfg, rule = student_config(stage, proto, work_dir, iters, seed, log=log)
    res = train_stage(stage, cfg)
    if rule is not None:
        res.extra['weight_rule'] = rule
    warn = check_predictions(res.metrics, proto.info['num_classes'], stage)
    if warn:
        log('WARNING: ' + warn)
        res.extra['warning'] = warn
    return res
