"""The quickstart: teacher -> student alone -> distilled students, on a CPU.

:func:`run_quickstart` runs the efficacy protocol
(:mod:`~mmkd.apis.quickstart_protocol`): it generates mmkd's synthetic
VOC-format dataset (cached), pretrains the teacher's and the student's
backbones on the dataset's object-crop pretext (cached), trains the teacher
of ``configs/quickstart/`` from its pretrained backbone (cached in the work
dir, keyed by a hash of its config and of the data), fine-tunes the student
alone (the baseline) and the same student with each method (ICKD-S and KD
by default; loss weights by each config's rule), then prints a results
table with diagnostics and writes a report (plots and the table) to
``<work_dir>/report``.

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

The pieces live in their own modules and are re-exported here:
:mod:`~mmkd.apis.quickstart_config` (stages, configs, ``--iters``),
:mod:`~mmkd.apis.quickstart_train` (one training run),
:mod:`~mmkd.apis.quickstart_results` (records, table, result files),
:mod:`~mmkd.apis.quickstart_cache` (the teacher cache) and
:mod:`~mmkd.apis.report` (the plots).
"""
import json
import os
import os.path as osp
import time
from collections import OrderedDict
from typing import Callable, Dict, Optional, Sequence

from .quickstart_cache import (load_teacher_cache, teacher_cache_key,
                               write_teacher_cache)
from .quickstart_config import (QUICKSTART_DATA, QUICKSTART_DISTILL_STAGES,
                                QUICKSTART_METHODS, QUICKSTART_STAGES,
                                QUICKSTART_TINY_DATA, QUICKSTART_TINY_ITERS,
                                parse_iters, quickstart_config_dir,
                                quickstart_config_path, set_max_iters,
                                stage_config)
from .quickstart_results import (QuickstartResult, StageResult,
                                 format_results_table, gap_fraction,
                                 results_markdown, save_results)
from .quickstart_train import collect_env_once, train_stage
from .report import write_report

__all__ = [
    'QUICKSTART_STAGES', 'QUICKSTART_DISTILL_STAGES', 'QUICKSTART_METHODS',
    'QUICKSTART_DATA', 'QUICKSTART_TINY_DATA', 'QUICKSTART_TINY_ITERS',
    'StageResult', 'QuickstartResult', 'quickstart_config_dir',
    'quickstart_config_path', 'parse_iters', 'set_max_iters',
    'stage_config', 'teacher_cache_key', 'load_teacher_cache',
    'write_teacher_cache', 'train_stage', 'gap_fraction',
    'format_results_table', 'run_quickstart', 'redraw_report'
]

Logger = Callable[[str], None]


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
                   jobs: Optional[int] = None,
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
            With ``jobs > 1`` it also sets the threads of each student
            run's process (default 1 there).
        jobs (int, optional): Student runs trained at a time, each in its
            own process (as ``tools/benchmark_efficacy.py`` does); their
            mmengine logs go to ``<work_dir>/<stage>/train.log``. None
            (default): 2 on a machine with at least 2 cores, else 1. On an
            idle 2-core machine two one-thread runs get through 1.4x the
            steps of one two-thread run; 1 trains the students one after
            the other in this process, logging to the console.
        log (callable): Where progress lines go (mmengine's runners log
            their own progress with ETA).

    Returns:
        QuickstartResult
    """
    import torch
    if jobs is None:
        jobs = 2 if (os.cpu_count() or 1) >= 2 else 1
    if int(jobs) < 1:
        raise ValueError(f'jobs must be at least 1, got {jobs}')
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(int(threads))
    try:
        with collect_env_once():
            return _run_quickstart(work_dir, data_root, iters, seed,
                                   skip_teacher_cache, tiny, methods,
                                   report, log, int(jobs), threads)
    finally:
        torch.set_num_threads(previous)


def _run_quickstart(work_dir, data_root, iters, seed, skip_teacher_cache,
                    tiny, methods, report, log, jobs=1,
                    threads=None) -> QuickstartResult:
    import mmkd  # noqa: F401  registers mmkd's modules

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
    # data, pretext, teacher, the students (one banner when in parallel),
    # the report
    total_steps = 3 + (1 if jobs > 1 else len(stages) - 1) + int(report)
    step = 0

    def banner(text: str) -> None:
        nonlocal step
        step += 1
        log(f'\n[quickstart {step}/{total_steps} | '
            f'{_fmt_time(time.time() - start)} elapsed] {text}')

    # 1-3. data, pretext backbones, teacher (all cached)
    from .quickstart_protocol import prepare_protocol, train_student
    proto = prepare_protocol(work_dir, data_root, tiny=tiny, iters=iters,
                             skip_teacher_cache=skip_teacher_cache, log=log,
                             banner=banner)
    voc_dir = proto.voc_dir
    results: Dict[str, StageResult] = OrderedDict()
    results['teacher'] = proto.teacher

    # 4. students: alone, then distilled, from the pretrained backbone
    if jobs > 1:
        banner(f'students: fine-tuning {", ".join(stages[1:])} from the '
               f'pretrained backbone, {jobs} at a time (each run logs to '
               f'<work dir>/<stage>/train.log)')
        results.update(
            _train_students_parallel(stages[1:], proto, work_dir, iters,
                                     seed, jobs, threads or 1, log))
    for stage in [] if jobs > 1 else stages[1:]:
        what = 'student alone (baseline)' if stage == 'baseline' else \
            f"student distilled with {QUICKSTART_STAGES[stage]['label']}"
        banner(f'{what}: fine-tuning {QUICKSTART_STAGES[stage]["config"]} '
               f'from the pretrained backbone')
        results[stage] = train_student(stage, proto,
                                       osp.join(work_dir, stage), iters,
                                       seed, log=log)

    # 5. results
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
    save_results(out, report_dir)  # the numbers first, whatever happens
    if report:
        banner(f'report: plots and diagnostics in {report_dir}')
        if methods:
            from .quickstart_diagnostics import quickstart_diagnostics
            diag = quickstart_diagnostics(proto, results, list(methods),
                                          seed, iters, report_dir, log=log)
            out.report.update(diag['plots'])
            out.diagnostics = diag['table']
        out.report.update(write_report(out, report_dir))
    out.wall_time_s = time.time() - start
    save_results(out, report_dir)

    log('\n' + results_markdown(out))
    if t <= b:
        log('WARNING: the teacher does not beat the student alone, so the '
            'gap fraction is undefined; train the teacher longer (--iters '
            'teacher=N) or check the data.')
    log(f'\nquickstart finished in {_fmt_time(out.wall_time_s)} '
        f'(min:s); report in {report_dir}')
    return out


def _train_students_parallel(stages, proto, work_dir, iters, seed, jobs,
                             threads, log) -> Dict[str, StageResult]:
    """Train the student ``stages`` ``jobs`` at a time with
    :func:`mmkd.apis.efficacy.run_task` (its CKA measurements included,
    so the report does not repeat them); longest runs first."""
    from .efficacy import run_tasks
    from .efficacy_data import check_predictions

    # Distilled runs cost about twice the student alone: start them first.
    order = sorted(stages, key=lambda s: s == 'baseline')
    tasks = [dict(stage=s, seed=seed, work_dir=osp.join(work_dir, s),
                  iters=iters, protocol=proto, threads=threads,
                  diagnostics=True) for s in order]
    start = time.time()

    def done(record, i):
        took = _fmt_time(record['train_time_s'])
        log(f"  [{i}/{len(tasks)}] {record['stage']}: mIoU "
            f"{record['metrics']['mIoU']:.2f} ({took} min:s; "
            f'{_fmt_time(time.time() - start)} since the first started)')

    out = {}
    for record in run_tasks(tasks, jobs, done):
        stage = record['stage']
        extra = {k: record[k] for k in ('weight_rule', 'cka', 'grad_ratio')
                 if record.get(k) is not None}
        warn = check_predictions(record['metrics'],
                                 proto.info['num_classes'], stage)
        if warn:
            log('WARNING: ' + warn)
            extra['warning'] = warn
        if stage != 'baseline' and 'weight_rule' in extra:
            rule = extra['weight_rule']
            log(f"  {stage} weight rule: distillation gradient = "
                f"{rule['grad_ratio']:g} x task gradient -> " + ', '.join(
                    f'{k} {v:.4g}' for k, v in rule['weights'].items()))
        out[stage] = StageResult(
            stage=stage, config=quickstart_config_path(stage),
            work_dir=osp.join(work_dir, stage),
            checkpoint=record['checkpoint'], metrics=record['metrics'],
            log_dir=record['log_dir'], max_iters=record['max_iters'],
            train_time_s=record['train_time_s'], extra=extra)
    return {s: out[s] for s in stages}


def redraw_report(work_dir: str) -> Dict[str, str]:
    """Redraw the plots of a finished quickstart from its results.json."""
    report_dir = osp.join(work_dir, 'report')
    with open(osp.join(report_dir, 'results.json')) as f:
        out = QuickstartResult.from_dict(json.load(f))
    out.report.update(write_report(out, report_dir))
    save_results(out, report_dir)
    return out.report
