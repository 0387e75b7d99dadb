"""The classification quickstart: teacher, student alone, ICKD-C, KD.

:func:`run_cls_quickstart` generates the synthetic shape-classification
dataset in ImageFolder layout (cached), trains the quickstart teacher of
``configs/imagenet/quickstart/`` once (cached in the work dir, keyed by a
hash of its config and of the data), then for every seed trains the
student alone and distils the same student with ICKD-C and with KD, and
prints a table of top-1 accuracy, mean +- std over the seeds.

Every stage runs as ``tools/train.py`` runs a config: the config file is
loaded with :func:`mmkd.utils.tool_utils.load_tool_config`, the overrides
(data root, work dir, iterations, seed, teacher checkpoint) are merged in,
the datasets are checked, and ``Runner.from_cfg(cfg).train()`` trains and
validates with mmpretrain's datasets, pipelines and ``Accuracy``.
"""
import json
import os
import os.path as osp
import statistics
import time
import uuid
from collections import OrderedDict
from typing import Callable, Dict, List, Optional, Sequence

from mmengine.config import Config

from mmkd.utils.atomic_io import atomic_write_json, atomic_write_text
from .quickstart_cache import (load_teacher_cache, teacher_cache_key,
                               write_teacher_cache)
from .quickstart_config import parse_iters, set_max_iters
from .quickstart_results import StageResult
from .quickstart_train import collect_env_once, train_stage

__all__ = [
    'CLS_QUICKSTART_STAGES', 'CLS_QUICKSTART_METHODS', 'CLS_QUICKSTART_DATA',
    'CLS_QUICKSTART_TINY_DATA', 'CLS_QUICKSTART_TINY_ITERS',
    'cls_quickstart_config_path', 'cls_stage_config', 'train_cls_stage',
    'mean_std', 'format_cls_table', 'run_cls_quickstart'
]

#: Stages: config in ``configs/imagenet/quickstart/`` and table label.
CLS_QUICKSTART_STAGES = OrderedDict(
    teacher=dict(config='teacher_resnet18-w32_syncls-64px.py',
                 label='Teacher (ResNet18 layout, width 32)'),
    baseline=dict(config='baseline_resnet10-w16_syncls-64px.py',
                  label='Student alone (ResNet10 layout, width 16)'),
    ickd=dict(config='ickd-c_resnet18-w32_resnet10-w16_syncls-64px.py',
              label='ICKD-C (KD + ICC on layer4)'),
    kd=dict(config='kd_resnet18-w32_resnet10-w16_syncls-64px.py',
            label='KD'),
)
#: Distillation methods run by default, in order.
CLS_QUICKSTART_METHODS = ('ickd', 'kd')
#: Generator arguments of the full run (per class: 9 classes).
CLS_QUICKSTART_DATA = dict(num_train=200, num_val=50, img_size=64, seed=0)
#: ``--tiny``: a handful of images and iterations (a pipeline check).
CLS_QUICKSTART_TINY_DATA = dict(num_train=3, num_val=2, img_size=32, seed=0)
CLS_QUICKSTART_TINY_ITERS = dict(teacher=2, student=2)
DEFAULT_SEEDS = (0, 1, 2)

Logger = Callable[[str], None]


def cls_quickstart_config_path(stage: str) -> str:
    """Config file of ``stage`` (a key of :data:`CLS_QUICKSTART_STAGES`)."""
    if stage not in CLS_QUICKSTART_STAGES:
        raise ValueError(f'unknown stage {stage!r}; choose from '
                         f'{list(CLS_QUICKSTART_STAGES)}')
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    path = osp.join(root, 'configs', 'imagenet', 'quickstart',
                    CLS_QUICKSTART_STAGES[stage]['config'])
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: run the quickstart from an mmkd checkout '
            f'(pip install -e .)')
    return path


def cls_stage_config(stage: str,
                     *,
                     data_root: str,
                     work_dir: str,
                     iters: Optional[dict] = None,
                     seed: Optional[int] = None,
                     teacher_checkpoint: Optional[str] = None) -> Config:
    """Load a stage's config with the quickstart's overrides.

    Args:
        stage (str): ``'teacher'``, ``'baseline'`` or a method.
        data_root (str): Root of the generated ImageFolder dataset.
        work_dir (str): The stage's work dir.
        iters (dict, optional): Output of
            :func:`mmkd.apis.quickstart_config.parse_iters`.
        seed (int, optional): ``randomness.seed`` of a student stage (the
            teacher keeps its config's seed, so that its cache is shared).
        teacher_checkpoint (str, optional): Needed by distillation stages.
    """
    from mmkd.utils.tool_utils import load_tool_config

    cfg = load_tool_config(cls_quickstart_config_path(stage),
                           work_dir=work_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader in cfg:
            cfg[loader].dataset.data_root = data_root
    iters = iters or parse_iters(None)
    student = stage != 'teacher'
    default = int(cfg.train_cfg.max_iters)
    n = iters.get('student' if student else 'teacher') or max(
        1, int(round(default * iters['scale'])))
    if n != default:
        set_max_iters(cfg, n)
        # set_max_iters rounds milestones: a short warm-up can end at its
        # begin (mmengine then refuses the scheduler). Keep it one long.
        for sched in cfg.get('param_scheduler', None) or []:
            if sched.get('end') is not None and \
                    sched['end'] <= sched.get('begin', 0):
                sched['end'] = sched.get('begin', 0) + 1
    if seed is not None and student:
        cfg.randomness = dict(cfg.get('randomness', None) or {}, seed=seed)
    if cfg.model.get('type') == 'ClsDistiller':
        if teacher_checkpoint is None:
            raise ValueError(f'stage {stage!r} distils: pass the teacher '
                             f'checkpoint')
        cfg.model.teacher_checkpoint = teacher_checkpoint
    # Several runners share this process: each gets its own names.
    tag = f'cls_quickstart_{stage}_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = tag
    if isinstance(cfg.get('visualizer', None), dict):
        cfg.visualizer.name = tag
    return cfg


def _final_accuracy(runner) -> Dict[str, float]:
    hub = runner.message_hub
    metrics = {}
    for name in ('top1', 'top5'):
        key = f'val/accuracy/{name}'
        if key in hub.log_scalars:
            metrics[name] = float(hub.get_scalar(key).current())
    if 'top1' not in metrics:
        raise RuntimeError(
            f'{runner.experiment_name}: no validation accuracy/top1 was '
            f'logged; the config must validate at the end of training')
    return metrics


def train_cls_stage(stage: str, cfg: Config) -> StageResult:
    """Train and validate one config the way ``tools/train.py`` does: the
    quickstart's :func:`train_stage` with top-1/top-5 and the
    classification data check."""
    from mmkd.datasets.imagenet_check import check_cls_datasets
    return train_stage(stage, cfg, final_metrics=_final_accuracy,
                       check_data=check_cls_datasets)


def mean_std(values: Sequence[float]):
    """``(mean, sample std)``; the std is None for fewer than 2 values."""
    values = [float(v) for v in values]
    std = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), std


def _fmt(values: Sequence[float]) -> str:
    mean, std = mean_std(values)
    return f'{mean:.2f}' if std is None else f'{mean:.2f} ± {std:.2f}'


def format_cls_table(results: Dict[str, List[dict]]) -> str:
    """Markdown table: top-1 / top-5 mean ± std, per-seed top-1, gap.

    Args:
        results (dict): Stage -> list of per-seed dicts with ``top1``,
            ``top5`` and ``seed`` (the teacher: one entry).
    """
    teacher = mean_std([r['top1'] for r in results['teacher']])[0]
    base = mean_std([r['top1'] for r in results['baseline']])[0]
    lines = ['| model | top-1 | top-5 | top-1 per seed | gap closed |',
             '|---|---:|---:|---|---:|']
    for stage, runs in results.items():
        top1 = [r['top1'] for r in runs]
        top5 = [r.get('top5', float('nan')) for r in runs]
        gap = ''
        if stage not in ('teacher', 'baseline') and teacher > base:
            frac = (mean_std(top1)[0] - base) / (teacher - base)
            gap = f'{100 * frac:+.0f}%'
        seeds = ', '.join(f"{r['top1']:.1f} (s{r['seed']})" for r in runs) \
            if stage != 'teacher' else '(one teacher for all seeds)'
        lines.append(f"| {CLS_QUICKSTART_STAGES[stage]['label']} | "
                     f'{_fmt(top1)} | {_fmt(top5)} | {seeds} | {gap} |')
    return '\n'.join(lines)


def run_cls_quickstart(work_dir: str = 'work_dirs/cls_quickstart',
                       data_root: str = 'data/synthetic_cls',
                       iters=None,
                       seeds: Sequence[int] = DEFAULT_SEEDS,
                       skip_teacher_cache: bool = False,
                       tiny: bool = False,
                       methods: Sequence[str] = CLS_QUICKSTART_METHODS,
                       threads: Optional[int] = None,
                       log: Logger = print) -> dict:
    """Run the classification quickstart; see the module docstring.

    Args:
        work_dir (str): Outputs: ``teacher/`` (cached), ``<stage>_seed<k>/``
            and ``results.{md,json}``.
        data_root (str): Where the dataset is generated (cached).
        iters: ``'0.5x'``, ``'teacher=N,student=M'`` (see
            :func:`mmkd.apis.quickstart_config.parse_iters`).
        seeds (Sequence[int]): Seeds of the student runs; the baseline and
            the distilled students share each seed.
        skip_teacher_cache (bool): Retrain the teacher even if cached.
        tiny (bool): A few images and iterations; the numbers mean nothing.
        methods (Sequence[str]): Distillation stages to run.
        threads (int, optional): torch CPU threads during the run.
        log (callable): Where progress lines go.

    Returns:
        dict: ``results`` (stage -> per-seed metrics), ``table``,
        ``wall_time_s`` and the paths written.
    """
    import torch

    known = [s for s in CLS_QUICKSTART_STAGES
             if s not in ('teacher', 'baseline')]
    unknown = [m for m in methods if m not in known]
    if unknown:
        raise ValueError(f'unknown methods {unknown}; choose from {known}')
    if not seeds:
        raise ValueError('give at least one seed')
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        with collect_env_once():
            return _run(work_dir, data_root, iters, list(seeds),
                        skip_teacher_cache, tiny, list(methods), log)
    finally:
        torch.set_num_threads(previous)


def _run(work_dir, data_root, iters, seeds, skip_teacher_cache, tiny,
         methods, log) -> dict:
    import mmkd  # noqa: F401  registers mmkd's modules
    from mmkd.datasets.synthetic_cls import (generate_synthetic_cls,
                                             load_synthetic_cls_meta)

    start = time.time()
    if iters is None and tiny:
        iters = dict(CLS_QUICKSTART_TINY_ITERS)
    iters = parse_iters(iters)
    work_dir = osp.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)

    def banner(text: str) -> None:
        elapsed = int(time.time() - start)
        log(f'\n[cls quickstart | {elapsed // 60}:{elapsed % 60:02d} '
            f'elapsed] {text}')

    data_kwargs = CLS_QUICKSTART_TINY_DATA if tiny else CLS_QUICKSTART_DATA
    banner(f'synthetic shape data in {data_root} (generated once)')
    root = generate_synthetic_cls(data_root, verbose=True, **data_kwargs)
    data_meta = load_synthetic_cls_meta(root)

    teacher_dir = osp.join(work_dir, 'teacher')
    cfg = cls_stage_config('teacher', data_root=root, work_dir=teacher_dir,
                           iters=iters)
    key = teacher_cache_key(cfg, data_meta)
    cached = None if skip_teacher_cache else load_teacher_cache(
        teacher_dir, key)
    if cached is not None:
        banner(f"teacher: cached {cached['checkpoint']} (top-1 "
               f"{cached['metrics']['top1']:.2f})")
        teacher = dict(cached['metrics'], seed=None,
                       checkpoint=cached['checkpoint'], cached=True)
    else:
        banner(f'teacher: training for {cfg.train_cfg.max_iters} iterations '
               f'(cached afterwards)')
        res = train_cls_stage('teacher', cfg)
        write_teacher_cache(teacher_dir, key, res)
        teacher = dict(res.metrics, seed=None, checkpoint=res.checkpoint,
                       train_time_s=res.train_time_s, cached=False)
    results: Dict[str, List[dict]] = OrderedDict(teacher=[teacher])

    for seed in seeds:
        for stage in ['baseline'] + methods:
            cfg = cls_stage_config(
                stage, data_root=root,
                work_dir=osp.join(work_dir, f'{stage}_seed{seed}'),
                iters=iters, seed=seed,
                teacher_checkpoint=teacher['checkpoint'])
            banner(f"{CLS_QUICKSTART_STAGES[stage]['label']}, seed {seed}: "
                   f'{cfg.train_cfg.max_iters} iterations')
            res = train_cls_stage(stage, cfg)
            results.setdefault(stage, []).append(
                dict(res.metrics, seed=seed, checkpoint=res.checkpoint,
                     train_time_s=res.train_time_s))

    table = format_cls_table(results)
    wall = time.time() - start
    text = (f'## mmkd classification quickstart\n\nSynthetic shapes '
            f'({root}), top-1 / top-5 accuracy (%) on its val split; '
            f'students: mean ± std over seeds {seeds}. Gap closed = '
            f'(distilled - alone) / (teacher - alone).\n\n{table}\n\n'
            f'Wall time: {wall / 60:.1f} min.\n')
    out = dict(work_dir=work_dir, data_root=root, seeds=seeds,
               iters=iters, results=results, table=table, wall_time_s=wall)
    out['results_md'] = osp.join(work_dir, 'results.md')
    out['results_json'] = osp.join(work_dir, 'results.json')
    atomic_write_text(text, out['results_md'])
    atomic_write_json(json.loads(json.dumps(out, default=str)),
                      out['results_json'], indent=1)
    log('\n' + text)
    t, b = teacher['top1'], mean_std(
        [r['top1'] for r in results['baseline']])[0]
    if t <= b:
        log('WARNING: the teacher does not beat the student alone; train '
            'it longer (--iters teacher=N).')
    return out
