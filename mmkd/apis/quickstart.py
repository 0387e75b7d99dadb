"""The quickstart: teacher -> student alone -> distilled students, on a CPU.

:func:`run_quickstart` generates mmkd's synthetic VOC-format dataset
(cached), trains the teacher of ``configs/quickstart/`` (cached in the work
dir, keyed by a hash of its config and of the data), trains the student
alone (the baseline) and distils the same student with each method (ICKD-S
and KD by default), then prints a results table and writes a report (plots
and the table) to ``<work_dir>/report``.

Every stage runs the way ``tools/train.py`` runs a config: the config file
is loaded with :func:`mmkd.utils.tool_utils.load_tool_config`, the
quickstart's overrides (data root, work dir, iterations, seed, the teacher
checkpoint) are merged in as ``--cfg-options`` would be, the datasets are
checked, and ``mmengine.runner.Runner.from_cfg(cfg).train()`` trains and
validates. So the quickstart exercises exactly the code that users run on
Pascal VOC; only the configs (a narrow DeepLabV3 pair, synthetic data) and
the number of iterations differ.

The gap fraction of a method is ``(distilled - baseline) / (teacher -
baseline)`` in mIoU: 1 means the distilled student matches the teacher, 0
means distillation did nothing, negative means it hurt.
"""
import contextlib
import copy
import functools
import gc
import hashlib
import json
import math
import os
import os.path as osp
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

from mmengine.config import Config

__all__ = [
    'QUICKSTART_STAGES', 'QUICKSTART_DISTILL_STAGES', 'QUICKSTART_METHODS',
    'QUICKSTART_DATA',
    'QUICKSTART_TINY_DATA', 'QUICKSTART_TINY_ITERS', 'StageResult',
    'QuickstartResult', 'quickstart_config_dir', 'quickstart_config_path',
    'parse_iters', 'set_max_iters', 'stage_config', 'teacher_cache_key',
    'load_teacher_cache', 'train_stage', 'gap_fraction',
    'format_results_table', 'run_quickstart', 'redraw_report'
]

#: Stages of the quickstart: the config (in ``configs/quickstart/``) and the
#: label used in tables and plots. ``teacher`` and ``baseline`` always run;
#: the others are distillation methods.
QUICKSTART_STAGES = OrderedDict(
    teacher=dict(
        config='teacher_deeplabv3_r18-w16-d16_synvoc-96x96.py',
        label='Teacher (DeepLabV3 R18 w16)'),
    baseline=dict(
        config='baseline_deeplabv3_r18-w8-d16_synvoc-96x96.py',
        label='Student alone (DeepLabV3 R18 w8)'),
    ickd=dict(
        config='ickd-s2x2_deeplabv3-r18-w16_deeplabv3-r18-w8_synvoc-96x96.py',
        label='ICKD-S'),
    kd=dict(
        config='kd_deeplabv3-r18-w16_deeplabv3-r18-w8_synvoc-96x96.py',
        label='KD'),
)
#: Every distillation stage (all but ``teacher`` and ``baseline``).
QUICKSTART_DISTILL_STAGES = tuple(
    s for s in QUICKSTART_STAGES if s not in ('teacher', 'baseline'))
#: Distillation methods run by default, in order.
QUICKSTART_METHODS = ('ickd', 'kd')

#: The synthetic dataset of the full quickstart (generator defaults).
QUICKSTART_DATA = dict(num_train=600, num_val=150, img_size=128, seed=0)
#: ``--tiny``: a handful of images and iterations, to test the pipeline.
QUICKSTART_TINY_DATA = dict(num_train=16, num_val=8, img_size=128, seed=0)
QUICKSTART_TINY_ITERS = dict(teacher=2, student=2)

CACHE_FILE = 'teacher_cache.json'
CACHE_FORMAT = 1

# Config keys that define what the teacher learns (its cache key).
_TEACHER_KEY_FIELDS = ('model', 'train_dataloader', 'val_dataloader',
                       'optim_wrapper', 'param_scheduler', 'train_cfg',
                       'randomness', 'val_evaluator')

Logger = Callable[[str], None]


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
    * overrides, ``'teacher=400,student=200'`` (either key may be left out):
      absolute iterations of the teacher and of every student (the
      baseline and the distilled students always get the same number).

    Returns:
        dict: ``dict(scale=float, teacher=int|None, student=int|None)``.
    """
    out = dict(scale=1.0, teacher=None, student=None)
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
                f'teacher=N,student=M')
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


def _student_stage(stage: str) -> bool:
    return stage != 'teacher'


def stage_config(stage: str,
                 *,
                 data_root: str,
                 work_dir: str,
                 iters: Optional[dict] = None,
                 seed: Optional[int] = None,
                 teacher_checkpoint: Optional[str] = None,
                 config: Optional[str] = None) -> Config:
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
    """
    from mmkd.utils.tool_utils import load_tool_config

    config = config or quickstart_config_path(stage)
    cfg = load_tool_config(config, work_dir=work_dir)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if loader in cfg:
            cfg[loader].dataset.data_root = data_root
    iters = iters or parse_iters(None)
    default = int(cfg.train_cfg.max_iters)
    key = 'student' if _student_stage(stage) else 'teacher'
    n = iters.get(key) or max(1, int(round(default * iters['scale'])))
    if n != default:
        set_max_iters(cfg, n)
    if seed is not None and _student_stage(stage):
        cfg.randomness = dict(cfg.get('randomness', None) or {}, seed=seed)
    if cfg.model.get('type') == 'SegDistiller':
        if teacher_checkpoint is None:
            raise ValueError(f'stage {stage!r} distils: pass the teacher '
                             f'checkpoint')
        cfg.model.teacher_checkpoint = teacher_checkpoint
    # Several runners live in this one process: give each its own
    # visualizer and message hub (mmengine keeps them by name, and a
    # reused visualizer would write into the previous run's log dir).
    tag = f'quickstart_{stage}_{uuid.uuid4().hex[:8]}'
    cfg.experiment_name = tag
    if isinstance(cfg.get('visualizer', None), dict):
        cfg.visualizer.name = tag
    return cfg


# --------------------------------------------------------------------------
# teacher cache
# --------------------------------------------------------------------------
def _canonical(obj):
    if isinstance(obj, dict):
        return {str(k): _canonical(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [_canonical(v) for v in obj]
    if isinstance(obj, float) and math.isfinite(obj):
        return repr(obj)
    return obj if isinstance(obj, (int, str, bool, type(None))) else repr(obj)


def teacher_cache_key(cfg: Config, data_meta: Optional[dict]) -> str:
    """SHA-256 of what the teacher learns from: model, data, recipe.

    The data root and the work dir are left out (the same data elsewhere
    gives the same teacher); the dataset is identified by its generator
    request (``meta.json`` without its statistics).
    """
    from mmkd.version import __version__

    fields = {k: copy.deepcopy(cfg.get(k, None)) for k in _TEACHER_KEY_FIELDS}
    for loader in ('train_dataloader', 'val_dataloader'):
        if fields.get(loader):
            fields[loader]['dataset'].pop('data_root', None)
    data = {k: v for k, v in (data_meta or {}).items() if k != 'stats'}
    payload = dict(
        format=CACHE_FORMAT,
        mmkd=__version__,
        config=_canonical(Config(fields).to_dict()),
        data=_canonical(data))
    text = json.dumps(payload, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()


def load_teacher_cache(teacher_dir: str, key: str) -> Optional[dict]:
    """The cached teacher's record if it is valid for ``key``, else None.

    Valid means: the record parses, its key matches, and the checkpoint it
    names is present (checkpoints are written atomically, so a present
    file is a whole one).
    """
    path = osp.join(teacher_dir, CACHE_FILE)
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get('key') != key:
        return None
    ckpt = record.get('checkpoint')
    if not isinstance(ckpt, str):
        return None
    ckpt = osp.join(teacher_dir, ckpt)
    if not osp.isfile(ckpt) or osp.getsize(ckpt) == 0:
        return None
    record = dict(record)
    record['checkpoint'] = ckpt
    log_dir = record.get('log_dir')
    record['log_dir'] = osp.join(teacher_dir, log_dir) if log_dir else None
    return record


def _write_json_atomic(obj, path: str) -> None:
    tmp = f'{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}'
    try:
        with open(tmp, 'w') as f:
            json.dump(obj, f, indent=1)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if osp.exists(tmp):
            os.remove(tmp)


def _write_teacher_cache(teacher_dir: str, key: str,
                         result: 'StageResult') -> None:
    record = dict(
        format=CACHE_FORMAT,
        key=key,
        checkpoint=osp.relpath(result.checkpoint, teacher_dir),
        log_dir=osp.relpath(result.log_dir, teacher_dir)
        if result.log_dir else None,
        metrics=result.metrics,
        max_iters=result.max_iters,
        train_time_s=result.train_time_s,
        created=time.strftime('%Y-%m-%d %H:%M:%S'))
    _write_json_atomic(record, osp.join(teacher_dir, CACHE_FILE))


# --------------------------------------------------------------------------
# running a stage
# --------------------------------------------------------------------------
class _CachedTextConfig(Config):
    """A Config whose ``pretty_text`` is formatted once per content.

    mmengine formats the whole config with yapf every time it logs, dumps
    or checkpoints it (five times per run, about a second each on a small
    CPU); the quickstart runs several short trainings in one process, so it
    caches the text, keyed by the config's content (a changed config gets a
    fresh text).
    """
    _pretty_cache: Dict[str, str] = {}

    @property
    def pretty_text(self) -> str:
        key = repr(self.to_dict())
        text = self._pretty_cache.get(key)
        if text is None:
            text = super().pretty_text
            if len(self._pretty_cache) > 64:
                self._pretty_cache.clear()
            self._pretty_cache[key] = text
        return text


@contextlib.contextmanager
def _collect_env_once():
    """Collect the environment info mmengine logs once per process, not
    once per runner (it shells out to compilers; seconds on a small CPU)."""
    from mmengine.runner import runner as runner_module
    original = runner_module.collect_env
    runner_module.collect_env = functools.lru_cache(maxsize=1)(original)
    try:
        yield
    finally:
        runner_module.collect_env = original


@dataclass
class StageResult:
    """What one training stage produced."""
    stage: str
    config: str
    work_dir: str
    checkpoint: str
    metrics: Dict[str, float]
    log_dir: Optional[str] = None
    max_iters: int = 0
    train_time_s: float = 0.0
    cached: bool = False

    @property
    def miou(self) -> float:
        return float(self.metrics['mIoU'])

    @property
    def scalars(self) -> Optional[str]:
        """The run's mmengine scalar log (``vis_data/scalars.json``)."""
        if not self.log_dir:
            return None
        path = osp.join(self.log_dir, 'vis_data', 'scalars.json')
        return path if osp.isfile(path) else None


def _final_metrics(runner) -> Dict[str, float]:
    hub = runner.message_hub
    metrics = {}
    for name in ('mIoU', 'mAcc', 'aAcc'):
        key = f'val/{name}'
        if key in hub.log_scalars:
            metrics[name] = float(hub.get_scalar(key).current())
    if 'mIoU' not in metrics:
        raise RuntimeError(
            f'{runner.experiment_name}: no validation mIoU was logged; the '
            f'config must validate at the end of training')
    return metrics


def train_stage(stage: str, cfg: Config) -> StageResult:
    """Train (and validate) one config with mmengine's Runner.

    The same path as ``tools/train.py``: dataset check, then
    ``Runner.from_cfg(cfg).train()``; the final validation metrics are
    read from the runner's message hub.
    """
    from mmengine.runner import Runner

    from mmkd.utils.data_check import check_datasets

    check_datasets(cfg)
    start = time.time()
    if type(cfg) is Config:
        cfg = copy.deepcopy(cfg)
        object.__setattr__(cfg, '__class__', _CachedTextConfig)
    runner = Runner.from_cfg(cfg)
    try:
        runner.train()
        metrics = _final_metrics(runner)
        work_dir, log_dir = runner.work_dir, runner.log_dir
        max_iters = runner.max_iters
    finally:
        # Close the runner's log file; the next stage gets its own.
        for handler in list(runner.logger.handlers):
            if hasattr(handler, 'baseFilename'):
                handler.close()
                runner.logger.removeHandler(handler)
        del runner
        gc.collect()
    last = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(last):
        with open(last) as f:
            checkpoint = f.read().strip()
    else:
        checkpoint = osp.join(work_dir, f'iter_{max_iters}.pth')
    if not osp.isfile(checkpoint):
        raise RuntimeError(f'{stage}: no checkpoint at {checkpoint}')
    return StageResult(
        stage=stage,
        config=cfg.filename,
        work_dir=work_dir,
        checkpoint=checkpoint,
        metrics=metrics,
        log_dir=log_dir,
        max_iters=max_iters,
        train_time_s=time.time() - start)


# --------------------------------------------------------------------------
# results
# --------------------------------------------------------------------------
def gap_fraction(distilled: float, baseline: float,
                 teacher: float) -> Optional[float]:
    """``(distilled - baseline) / (teacher - baseline)``; None if the
    teacher does not beat the baseline (the fraction is then undefined)."""
    gap = teacher - baseline
    if not gap > 0:
        return None
    return (distilled - baseline) / gap


def _fmt_gap(frac: Optional[float]) -> str:
    return 'n/a' if frac is None else f'{100 * frac:+.0f}%'


def format_results_table(rows: Sequence[dict]) -> str:
    """Markdown table of ``rows`` (dicts with label, mIoU, mAcc, aAcc and,
    for distilled students, gap)."""
    lines = [
        '| model | mIoU | mAcc | aAcc | gap closed |',
        '|---|---:|---:|---:|---:|',
    ]
    for row in rows:
        gap = _fmt_gap(row['gap']) if 'gap' in row else ''
        cells = [
            f"{row.get(k):.2f}" if row.get(k) is not None else '-'
            for k in ('mIoU', 'mAcc', 'aAcc')
        ]
        lines.append(f"| {row['label']} | " + ' | '.join(cells) +
                     f' | {gap} |')
    return '\n'.join(lines)


@dataclass
class QuickstartResult:
    """Everything :func:`run_quickstart` produced."""
    work_dir: str
    data_root: str
    stages: Dict[str, StageResult]
    gaps: Dict[str, Optional[float]]
    table: str
    report: Dict[str, str] = field(default_factory=dict)
    wall_time_s: float = 0.0

    def rows(self) -> List[dict]:
        out = []
        for name, res in self.stages.items():
            row = dict(stage=name, label=QUICKSTART_STAGES[name]['label'],
                       **res.metrics)
            if name in self.gaps:
                row['gap'] = self.gaps[name]
            out.append(row)
        return out

    @classmethod
    def from_dict(cls, data: dict) -> 'QuickstartResult':
        """Inverse of :meth:`to_dict` (e.g. to redraw a report)."""
        stages = OrderedDict()
        for name, st in data['stages'].items():
            stages[name] = StageResult(
                stage=name,
                config=st['config'],
                work_dir=osp.dirname(st['checkpoint']),
                checkpoint=st['checkpoint'],
                metrics=st['metrics'],
                log_dir=st.get('log_dir'),
                max_iters=st.get('max_iters', 0),
                train_time_s=st.get('train_time_s', 0.0),
                cached=st.get('cached', False))
        gaps = {r['stage']: r.get('gap') for r in data['results']
                if 'gap' in r}
        out = cls(
            work_dir=data['work_dir'],
            data_root=data['data_root'],
            stages=stages,
            gaps=gaps,
            table='',
            report=dict(data.get('report') or {}),
            wall_time_s=data.get('wall_time_s', 0.0))
        out.table = format_results_table(out.rows())
        return out

    def to_dict(self) -> dict:
        return dict(
            work_dir=self.work_dir,
            data_root=self.data_root,
            wall_time_s=self.wall_time_s,
            results=self.rows(),
            stages={
                k: dict(
                    config=v.config,
                    checkpoint=v.checkpoint,
                    log_dir=v.log_dir,
                    max_iters=v.max_iters,
                    train_time_s=v.train_time_s,
                    cached=v.cached,
                    metrics=v.metrics)
                for k, v in self.stages.items()
            },
            report=self.report)


def _fmt_time(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 60}:{seconds % 60:02d}'


def run_quickstart(work_dir: str = 'work_dirs/quickstart',
                   data_root: str = 'data/synthetic_voc',
                   iters=None,
                   seed: int = 0,
                   skip_teacher_cache: bool = False,
                   tiny: bool = False,
                   methods: Sequence[str] = QUICKSTART_METHODS,
                   report: bool = True,
                   threads: Optional[int] = None,
                   log: Logger = print) -> QuickstartResult:
    """Run the whole quickstart; see the module docstring.

    Args:
        work_dir (str): Root of all outputs: ``teacher/`` (the cached
            teacher), ``baseline/``, ``<method>/``, ``report/``.
        data_root (str): Where the synthetic data is generated (cached);
            the dataset is ``<data_root>/VOC2012``.
        iters: Iterations, see :func:`parse_iters` (``'0.5x'``,
            ``'teacher=400,student=200'``).
        seed (int): Seed of the student runs (baseline and distilled use
            the same one). The teacher keeps its config's seed.
        skip_teacher_cache (bool): Train the teacher even if a valid cached
            one exists (the cache is then rewritten).
        tiny (bool): A few images and iterations: tests the pipeline in
            seconds; the numbers mean nothing. Unless given, ``iters``
            becomes ``QUICKSTART_TINY_ITERS``.
        methods (Sequence[str]): Distillation stages to run.
        report (bool): Write the plots to ``<work_dir>/report``.
        threads (int, optional): CPU threads of torch during the run
            (restored afterwards); None (default) keeps torch's setting,
            one thread per core. On an idle 2-core machine 2 threads train
            these models 1.4x faster than 1 (0.088 vs 0.125 s per student
            step); on a CPU shared with other jobs use 1: a second thread
            then waits for a busy core (measured: steps 5-60x slower).
        log (callable): Where progress lines go (mmengine's runners log
            their own progress with ETA).

    Returns:
        QuickstartResult
    """
    import torch
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        with _collect_env_once():
            return _run_quickstart(work_dir, data_root, iters, seed,
                                   skip_teacher_cache, tiny, methods,
                                   report, log)
    finally:
        torch.set_num_threads(previous)


def _run_quickstart(work_dir, data_root, iters, seed, skip_teacher_cache,
                    tiny, methods, report, log) -> QuickstartResult:
    import mmkd  # noqa: F401  registers mmkd's modules
    from mmkd.datasets.synthetic_voc import (generate_synthetic_voc,
                                             load_synthetic_meta)

    start = time.time()
    unknown = [m for m in methods if m not in QUICKSTART_DISTILL_STAGES]
    if unknown:
        raise ValueError(f'unknown methods {unknown}; choose from '
                         f'{list(QUICKSTART_DISTILL_STAGES)}')
    if iters is None and tiny:
        iters = dict(QUICKSTART_TINY_ITERS)
    iters = parse_iters(iters)
    work_dir = osp.abspath(work_dir)
    os.makedirs(work_dir, exist_ok=True)
    stages = ['teacher', 'baseline'] + list(methods)
    total_steps = len(stages) + 1 + int(report)
    step = 0

    def banner(text: str) -> None:
        nonlocal step
        step += 1
        log(f'\n[quickstart {step}/{total_steps} | '
            f'{_fmt_time(time.time() - start)} elapsed] {text}')

    # 1. data
    data_kwargs = QUICKSTART_TINY_DATA if tiny else QUICKSTART_DATA
    banner(f'synthetic VOC-format data in {data_root} '
           f"({data_kwargs['num_train']} train / {data_kwargs['num_val']} "
           f"val, {data_kwargs['img_size']}px; generated once, then cached)")
    voc_dir = generate_synthetic_voc(data_root, verbose=True, **data_kwargs)
    data_meta = load_synthetic_meta(voc_dir)

    results: Dict[str, StageResult] = OrderedDict()

    # 2. teacher (cached)
    teacher_dir = osp.join(work_dir, 'teacher')
    cfg = stage_config('teacher', data_root=voc_dir, work_dir=teacher_dir,
                       iters=iters)
    key = teacher_cache_key(cfg, data_meta)
    cached = None if skip_teacher_cache else load_teacher_cache(
        teacher_dir, key)
    if cached is not None:
        banner(f'teacher: using the cached teacher {cached["checkpoint"]} '
               f"(mIoU {cached['metrics']['mIoU']:.2f}; --skip-teacher-cache "
               f'retrains it)')
        results['teacher'] = StageResult(
            stage='teacher',
            config=cfg.filename,
            work_dir=teacher_dir,
            checkpoint=cached['checkpoint'],
            metrics=cached['metrics'],
            log_dir=cached['log_dir'],
            max_iters=cached.get('max_iters', 0),
            train_time_s=cached.get('train_time_s', 0.0),
            cached=True)
    else:
        banner(f'teacher: training {osp.basename(cfg.filename)} for '
               f'{cfg.train_cfg.max_iters} iterations (cached afterwards)')
        res = train_stage('teacher', cfg)
        _write_teacher_cache(teacher_dir, key, res)
        results['teacher'] = res
    teacher_ckpt = results['teacher'].checkpoint

    # 3. students: alone, then distilled
    for stage in stages[1:]:
        cfg = stage_config(
            stage,
            data_root=voc_dir,
            work_dir=osp.join(work_dir, stage),
            iters=iters,
            seed=seed,
            teacher_checkpoint=teacher_ckpt)
        what = 'student alone (baseline)' if stage == 'baseline' else \
            f"student distilled with {QUICKSTART_STAGES[stage]['label']}"
        banner(f'{what}: training {osp.basename(cfg.filename)} for '
               f'{cfg.train_cfg.max_iters} iterations')
        results[stage] = train_stage(stage, cfg)

    # 4. results
    t, b = results['teacher'].miou, results['baseline'].miou
    gaps = {m: gap_fraction(results[m].miou, b, t) for m in methods}
    out = QuickstartResult(
        work_dir=work_dir,
        data_root=voc_dir,
        stages=results,
        gaps=gaps,
        table='')
    out.table = format_results_table(out.rows())

    # 5. report
    report_dir = osp.join(work_dir, 'report')
    os.makedirs(report_dir, exist_ok=True)
    out.wall_time_s = time.time() - start
    _save_results(out, report_dir)  # the numbers first, whatever happens
    if report:
        from .report import write_report
        banner(f'report: plots in {report_dir}')
        out.report.update(write_report(out, report_dir))
    out.wall_time_s = time.time() - start
    _save_results(out, report_dir)

    log('\n' + _results_markdown(out))
    if t <= b:
        log('WARNING: the teacher does not beat the student alone, so the '
            'gap fraction is undefined; train the teacher longer (--iters '
            'teacher=N) or check the data.')
    log(f'\nquickstart finished in {_fmt_time(out.wall_time_s)} '
        f'(min:s); report in {report_dir}')
    return out


def _save_results(out: QuickstartResult, report_dir: str) -> None:
    out.report['results.md'] = osp.join(report_dir, 'results.md')
    out.report['results.json'] = osp.join(report_dir, 'results.json')
    with open(out.report['results.md'], 'w') as f:
        f.write(_results_markdown(out))
    _write_json_atomic(out.to_dict(), out.report['results.json'])


def redraw_report(work_dir: str) -> Dict[str, str]:
    """Redraw the plots of a finished quickstart from its results.json."""
    from .report import write_report
    report_dir = osp.join(work_dir, 'report')
    with open(osp.join(report_dir, 'results.json')) as f:
        out = QuickstartResult.from_dict(json.load(f))
    out.report.update(write_report(out, report_dir))
    _save_results(out, report_dir)
    return out.report


def _results_markdown(out: QuickstartResult) -> str:
    t = out.stages['teacher']
    lines = [
        '## mmkd quickstart results',
        '',
        f'Synthetic VOC-format data ({out.data_root}); mIoU on its val '
        f'split. Teacher: {t.max_iters} iterations'
        f"{' (cached)' if t.cached else ''}; students: "
        f"{out.stages['baseline'].max_iters} iterations each. Gap closed = "
        f'(distilled - baseline) / (teacher - baseline).',
        '',
        out.table,
    ]
    if out.report:
        lines += ['', 'Report: ' + ', '.join(
            osp.basename(p) for p in out.report.values())]
    return '\n'.join(lines) + '\n'
