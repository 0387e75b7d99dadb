"""The efficacy benchmark: every method against the student alone, over
seeds, under the protocol of :mod:`mmkd.apis.quickstart_protocol`.

:func:`run_task` trains one (stage, seed) in a worker process and records
its mIoU, training time, loss-weight rule outcome, gradient-ratio log and
the CKA of its distilled features to the teacher's before and after
training; :func:`summarize` and :func:`format_table` turn the records into
the table of ``tools/benchmark_efficacy.py``.
"""
import hashlib
import json
import os
import os.path as osp
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, List, Optional, Sequence

from mmkd.utils.atomic_io import atomic_write_json

from .quickstart_config import QUICKSTART_STAGES
from .quickstart_results import gap_fraction

__all__ = [
    'run_key', 'schedule_dir', 'run_task', 'run_tasks', 'load_record',
    'summarize', 'format_table', 'baseline_cka'
]


def run_key(stage: str, seed: int, cfg) -> str:
    """SHA-256 of what a run learns from (a finished run with the same key
    is not trained again)."""
    from mmengine.config import Config

    from mmkd.utils.plain import canonical
    fields = {k: cfg.get(k) for k in ('model', 'train_dataloader',
                                      'optim_wrapper', 'param_scheduler',
                                      'train_cfg', 'randomness',
                                      'distill_weight_rule')}
    text = json.dumps(
        dict(stage=stage, seed=seed,
             cfg=canonical(Config(fields).to_dict())), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def schedule_dir(root: str, iters: Optional[dict]) -> str:
    """Where students run under ``iters`` (a :func:`parse_iters` dict):
    ``root`` at the configs' schedule, ``root/student<N>`` (or
    ``root/student-x<scale>``) at another, so that runs at a longer
    schedule never replace the cached runs of the default one."""
    iters = iters or {}
    if iters.get('student'):
        return osp.join(root, f"student{iters['student']}")
    scale = iters.get('scale', 1.0)
    return root if scale == 1.0 else osp.join(root, f'student-x{scale:g}')


def load_record(work_dir: str, key: str) -> Optional[dict]:
    """The finished run's ``result.json`` if its key matches, else None."""
    try:
        with open(osp.join(work_dir, 'result.json')) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if record.get('key') == key else None


def _init_worker(threads: Optional[int] = 1) -> None:
    import torch

    from .quickstart_train import collect_env_once
    if threads is not None:
        torch.set_num_threads(threads)
    if not getattr(_init_worker, 'patched', False):
        collect_env_once().__enter__()  # for this process
        _init_worker.patched = True


def run_task(task: dict) -> dict:
    """Train one (stage, seed) under the protocol; output goes to
    ``<work_dir>/train.log``. Returns (and writes) the run's record."""
    from .efficacy_hooks import load_grad_ratios
    from .quickstart_protocol import student_config
    from .quickstart_train import train_stage
    from .efficacy_data import check_predictions
    _init_worker(task.get('threads', 1))
    os.makedirs(task['work_dir'], exist_ok=True)
    saved = os.dup(1), os.dup(2)
    proto = task['protocol']
    with open(osp.join(task['work_dir'], 'train.log'), 'a') as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            cfg, rule = student_config(task['stage'], proto,
                                       task['work_dir'], task['iters'],
                                       task['seed'],
                                       grad_ratio=task.get('grad_ratio'))
            res = train_stage(task['stage'], cfg)
            cka = None
            if rule is not None and task.get('diagnostics', True):
                from .efficacy_cka import distill_cka
                cka = dict(
                    before=distill_cka(cfg, None, seed=task['seed']),
                    after=distill_cka(cfg, res.checkpoint,
                                      seed=task['seed']))
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    record = dict(
        stage=task['stage'], seed=task['seed'], key=task.get('key'),
        teacher_seed=task.get('teacher_seed'),
        grad_ratio_override=task.get('grad_ratio'),
        metrics=res.metrics, checkpoint=res.checkpoint,
        log_dir=res.log_dir, max_iters=res.max_iters,
        train_time_s=res.train_time_s, weight_rule=rule, cka=cka,
        grad_ratio=load_grad_ratios(task['work_dir']),
        warning=check_predictions(res.metrics, proto.info['num_classes'],
                                  task['stage']))
    atomic_write_json(record, osp.join(task['work_dir'], 'result.json'),
                      indent=1)
    return record


def run_tasks(tasks: Sequence[dict],
              jobs: int = 2,
              on_done: Optional[Callable[[dict, int], None]] = None
              ) -> List[dict]:
    """Train ``tasks`` with :func:`run_task`, ``jobs`` at a time, each in
    its own (spawned) process; ``jobs <= 1`` trains them one after the
    other in this process.

    Args:
        tasks (Sequence[dict]): What :func:`run_task` takes.
        jobs (int): Runs at a time.
        on_done (callable, optional): ``(record, i)``, called as each run
            finishes (``i`` counts from 1).

    Returns:
        list[dict]: The records, in the order the runs finished.
    """
    records = []
    if jobs <= 1:
        for i, task in enumerate(tasks, 1):
            records.append(run_task(task))
            if on_done:
                on_done(records[-1], i)
        return records
    import multiprocessing as mp
    with ProcessPoolExecutor(max_workers=max(1, min(jobs, len(tasks))),
                             mp_context=mp.get_context('spawn')) as pool:
        futures = [pool.submit(run_task, t) for t in tasks]
        for i, fut in enumerate(as_completed(futures), 1):
            records.append(fut.result())
            if on_done:
                on_done(records[-1], i)
    return records


def baseline_cka(proto, method: str, checkpoint: str, iters=None) -> dict:
    """CKA of the *baseline* student's features (raw: before any
    connector) to the teacher's at the layers ``method`` distils: the
    similarity that training alone reaches (the control)."""
    from .efficacy_cka import distill_cka
    from .quickstart_protocol import protocol_config
    return distill_cka(protocol_config(method, proto, '/tmp', iters),
                       checkpoint)


def _mean_std(values: Sequence[float]):
    values = list(values)
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def _last_ratio(record, which: int):
    rows = [r for r in record.get('grad_ratio') or [] if 'ratio' in r]
    return rows[which]['ratio'] if rows else None


def summarize(records: List[dict], teacher_miou: float,
              methods: Sequence[str], seeds: Sequence[int]) -> List[dict]:
    """Aggregate run records into table rows."""
    by = {(r['stage'], r['seed']): r for r in records}
    base = [by[('baseline', s)]['metrics']['mIoU'] for s in seeds]
    b_mean, b_std = _mean_std(base)
    b_time = statistics.fmean(by[('baseline', s)]['train_time_s']
                              for s in seeds)
    rows = [
        dict(stage='teacher', label=QUICKSTART_STAGES['teacher']['label'],
             mean=teacher_miou, std=None, n=1),
        dict(stage='baseline', label=QUICKSTART_STAGES['baseline']['label'],
             mean=b_mean, std=b_std, n=len(base), per_seed=base,
             time=1.0),
    ]
    for m in methods:
        recs = [by[(m, s)] for s in seeds]
        vals = [r['metrics']['mIoU'] for r in recs]
        mean, std = _mean_std(vals)
        paired = [gap_fraction(v, b, teacher_miou) for v, b in
                  zip(vals, base)]
        paired = [p for p in paired if p is not None]
        diffs = [v - b for v, b in zip(vals, base)]
        d_mean, d_std = _mean_std(diffs)
        weights = [r['weight_rule']['weights'] for r in recs
                   if r.get('weight_rule')]
        cka = [r['cka'] for r in recs if r.get('cka')]
        row = dict(
            stage=m, label=QUICKSTART_STAGES[m]['label'], mean=mean,
            std=std, n=len(vals), per_seed=vals, delta=mean - b_mean,
            delta_paired=(d_mean, d_std),
            # one seed has no spread to compare with: None, shown 'n/a'
            beats_2std=((mean - b_mean) > 2 * max(b_std, std)
                        if len(vals) > 1 and len(base) > 1 else None),
            gap=gap_fraction(mean, b_mean, teacher_miou),
            gap_paired=_mean_std(paired) if paired else None,
            wins=sum(v > b for v, b in zip(vals, base)),
            time=statistics.fmean(r['train_time_s'] for r in recs) / b_time,
            weights=weights[0] if weights else None,
            ratio_start=_last_ratio(recs[0], 0),
            ratio_end=_last_ratio(recs[0], -1))
        if cka:
            name = next(iter(cka[0]['before']))
            row['cka_item'] = name
            for when in ('before', 'after'):
                for kind in ('raw', 'transformed'):
                    row[f'cka_{when}_{kind}'] = statistics.fmean(
                        c[when][name][kind] for c in cka)
        rows.append(row)
    return rows


def _f(value, fmt: str, empty: str = '') -> str:
    return empty if value is None else format(value, fmt)


def _yes_no(flag: Optional[bool]) -> str:
    return 'n/a' if flag is None else ('yes' if flag else 'no')


def format_table(rows: List[dict], seeds: Sequence[int]) -> str:
    """The Markdown table of :func:`summarize`'s rows."""
    lines = [
        f'| model | mIoU mean ± std (n={len(seeds)}) | Δ | > 2 std | '
        'gap closed (of means) | gap closed per seed | wins | time × '
        'student | weight (rule) | CKA raw before → after | '
        'grad ratio start → end |',
        '|---|---:|---:|:-:|---:|---:|---:|---:|---|---|---|',
    ]
    for r in rows:
        std = '' if r['std'] is None else f" ± {r['std']:.2f}"
        if r['stage'] in ('teacher', 'baseline'):
            cells = [''] * 5 + [_f(r.get('time'), '.2f')] + [''] * 3
            lines.append(f"| {r['label']} | {r['mean']:.2f}{std} | " +
                         ' | '.join(cells) + ' |')
            continue
        gp = r['gap_paired']
        gap = 'n/a' if r['gap'] is None else f"{100 * r['gap']:+.0f}%"
        gap_seed = 'n/a' if gp is None else (
            f'{100 * gp[0]:+.0f}% ± {100 * gp[1]:.0f}%')
        w = ', '.join(f'{v:.3g}' for v in (r['weights'] or {}).values())
        cka = '' if r.get('cka_before_raw') is None else (
            f"{r['cka_before_raw']:.2f} → {r['cka_after_raw']:.2f}")
        ratio = '' if r.get('ratio_start') is None else (
            f"{r['ratio_start']:.2f} → {r['ratio_end']:.2f}")
        lines.append(
            f"| {r['label']} | {r['mean']:.2f}{std} | {r['delta']:+.2f} | "
            f"{_yes_no(r['beats_2std'])} | "
            f'{gap} | {gap_seed} | '
            f"{r['wins']}/{r['n']} | {r['time']:.2f} | {w} | {cka} | "
            f'{ratio} |')
    return '\n'.join(lines)
