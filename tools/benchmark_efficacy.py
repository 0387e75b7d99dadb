"""Efficacy benchmark: does distillation beat the student alone, over seeds?

For every distillation method with a quickstart config (ICKD-S and KD by
default), trains the distilled student over several seeds (>= 3) against
the student alone (the baseline) over the same seeds, with the quickstart's
cached teacher, and reports mean +- std mIoU and the fraction of the
teacher-student gap each method closes, as a Markdown table:

    python tools/benchmark_efficacy.py                       # seeds 0 1 2
    python tools/benchmark_efficacy.py --seeds 0 1 2 3 4 --jobs 2
    python tools/benchmark_efficacy.py --iters student=600 --methods ickd

Runs are ordinary mmengine trainings of configs/quickstart/*.py (the path
of tools/train.py). Every finished run leaves ``result.json`` in its work
dir and is not run again (delete the dir, or pass --rerun, to redo it), so
an interrupted benchmark resumes where it stopped. ``--jobs N`` trains N
runs at a time in separate processes, one CPU thread each.

``--probe-losses`` only measures the initial magnitude of each distillation
loss (unweighted and weighted) against the student's cross-entropy on a few
training batches, which is how the loss weights of the configs were chosen.

The gap fraction is computed on the means,
``(mean_method - mean_baseline) / (teacher - mean_baseline)``; the table
also gives its mean +- std over seeds (each seed paired with the baseline of
the same seed) and on how many seeds the method beat the baseline.
"""
import argparse
import json
import math
import os
import os.path as osp
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed

try:
    import mmkd  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmkd  # noqa: F401

from mmkd.apis.quickstart import (QUICKSTART_DATA, QUICKSTART_DISTILL_STAGES,
                                  QUICKSTART_STAGES, QUICKSTART_TINY_DATA,
                                  StageResult, gap_fraction, parse_iters,
                                  stage_config, train_stage)
from mmkd.utils.atomic_io import atomic_write_json, atomic_write_text

METHODS = list(QUICKSTART_DISTILL_STAGES)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Distilled students vs the student alone over seeds: '
        'mean +- std mIoU and the fraction of the teacher gap closed')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', default=METHODS, choices=METHODS)
    p.add_argument(
        '--work-dir',
        default='work_dirs/efficacy',
        help='runs go to <work-dir>/<stage>/seed<k>/')
    p.add_argument(
        '--teacher-dir',
        default=None,
        help='cached teacher (default: <quickstart-work-dir>/teacher, shared '
        'with tools/quickstart.py; trained there if missing)')
    p.add_argument(
        '--quickstart-work-dir',
        default='work_dirs/quickstart',
        help='work dir of the quickstart whose teacher cache is used')
    p.add_argument('--data-root', default='data/synthetic_voc')
    p.add_argument(
        '--iters',
        default=None,
        help="as tools/quickstart.py: '0.5x' or 'teacher=N,student=M'")
    p.add_argument(
        '--jobs',
        type=int,
        default=2,
        help='runs trained at a time, each in its own process with one CPU '
        'thread (default 2, for a 2-core CPU)')
    p.add_argument(
        '--rerun',
        action='store_true',
        help='retrain runs that already have a result')
    p.add_argument(
        '--out',
        default=None,
        help='Markdown output (default <work-dir>/efficacy.md)')
    p.add_argument(
        '--tiny',
        action='store_true',
        help='the quickstart --tiny data and iterations (a pipeline check)')
    p.add_argument(
        '--probe-losses',
        action='store_true',
        help='only measure the initial loss magnitudes (see the docstring)')
    p.add_argument('--probe-batches', type=int, default=5)
    args = p.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        p.error('--seeds must be distinct')
    try:
        parse_iters(args.iters)
    except ValueError as err:
        p.error(str(err))
    return args


# --------------------------------------------------------------------------
# data and teacher
# --------------------------------------------------------------------------
def prepare(args):
    """Generate the data (cached) and get the cached teacher (or train
    it, as the quickstart does). Returns (voc_dir, teacher StageResult)."""
    from mmkd.apis.quickstart_cache import (load_teacher_cache,
                                            teacher_cache_key,
                                            write_teacher_cache)
    from mmkd.datasets.synthetic_voc import (generate_synthetic_voc,
                                             load_synthetic_meta)

    data = QUICKSTART_TINY_DATA if args.tiny else QUICKSTART_DATA
    voc_dir = generate_synthetic_voc(args.data_root, verbose=True, **data)
    teacher_dir = osp.abspath(args.teacher_dir or osp.join(
        args.quickstart_work_dir, 'teacher'))
    cfg = stage_config('teacher', data_root=voc_dir, work_dir=teacher_dir,
                       iters=args.iters_dict)
    key = teacher_cache_key(cfg, load_synthetic_meta(voc_dir))
    cached = load_teacher_cache(teacher_dir, key)
    if cached is not None:
        print(f'teacher: cached {cached["checkpoint"]} '
              f"(mIoU {cached['metrics']['mIoU']:.2f})")
        return voc_dir, StageResult(
            stage='teacher', config=cfg.filename, work_dir=teacher_dir,
            checkpoint=cached['checkpoint'], metrics=cached['metrics'],
            log_dir=cached['log_dir'], max_iters=cached.get('max_iters', 0),
            cached=True)
    print(f'teacher: no valid cache in {teacher_dir}; training it')
    _init_worker(threads=None)
    res = train_stage('teacher', cfg)
    write_teacher_cache(teacher_dir, key, res)
    return voc_dir, res


# --------------------------------------------------------------------------
# runs
# --------------------------------------------------------------------------
def _init_worker(threads=1):
    import torch

    from mmkd.apis.quickstart_train import collect_env_once
    if threads is not None:
        torch.set_num_threads(threads)
    if not getattr(_init_worker, 'patched', False):
        collect_env_once().__enter__()  # for this process
        _init_worker.patched = True


def _run_key(stage, seed, cfg):
    import hashlib
    from mmkd.utils.plain import canonical
    fields = {k: cfg.get(k) for k in ('model', 'train_dataloader',
                                      'optim_wrapper', 'param_scheduler',
                                      'train_cfg', 'randomness')}
    from mmengine.config import Config
    text = json.dumps(
        dict(stage=stage, seed=seed,
             cfg=canonical(Config(fields).to_dict())),
        sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def run_one(task: dict) -> dict:
    """Train one (stage, seed); runs in a worker process. Output goes to
    ``<work_dir>/train.log``; returns the result record."""
    _init_worker(task.get('threads', 1))
    os.makedirs(task['work_dir'], exist_ok=True)
    log_path = osp.join(task['work_dir'], 'train.log')
    saved = os.dup(1), os.dup(2)
    with open(log_path, 'a') as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            cfg = stage_config(
                task['stage'], data_root=task['data_root'],
                work_dir=task['work_dir'], iters=task['iters'],
                seed=task['seed'],
                teacher_checkpoint=task['teacher_checkpoint'])
            res = train_stage(task['stage'], cfg)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    record = dict(
        stage=task['stage'], seed=task['seed'], key=task['key'],
        metrics=res.metrics, checkpoint=res.checkpoint, log_dir=res.log_dir,
        max_iters=res.max_iters, train_time_s=res.train_time_s)
    atomic_write_json(record, osp.join(task['work_dir'], 'result.json'),
                      indent=1)
    return record


def _load_record(work_dir, key):
    try:
        with open(osp.join(work_dir, 'result.json')) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    return record if record.get('key') == key else None


# --------------------------------------------------------------------------
# table
# --------------------------------------------------------------------------
def _mean_std(values):
    mean = statistics.fmean(values)
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, std


def summarize(records, teacher_miou, methods, seeds):
    """Aggregate run records into table rows (see module docstring)."""
    by = {(r['stage'], r['seed']): r['metrics']['mIoU'] for r in records}
    base = [by[('baseline', s)] for s in seeds]
    b_mean, b_std = _mean_std(base)
    rows = [
        dict(stage='teacher', label=QUICKSTART_STAGES['teacher']['label'],
             mean=teacher_miou, std=None, n=1),
        dict(stage='baseline', label=QUICKSTART_STAGES['baseline']['label'],
             mean=b_mean, std=b_std, n=len(base), per_seed=base),
    ]
    for m in methods:
        vals = [by[(m, s)] for s in seeds]
        mean, std = _mean_std(vals)
        paired = [gap_fraction(v, b, teacher_miou) for v, b in
                  zip(vals, base)]
        paired = [p for p in paired if p is not None]
        rows.append(
            dict(stage=m, label=QUICKSTART_STAGES[m]['label'], mean=mean,
                 std=std, n=len(vals), per_seed=vals,
                 delta=mean - b_mean,
                 gap=gap_fraction(mean, b_mean, teacher_miou),
                 gap_paired=_mean_std(paired) if paired else None,
                 wins=sum(v > b for v, b in zip(vals, base))))
    return rows


def format_table(rows, seeds):
    lines = [
        f'| model | mIoU mean ± std (n={len(seeds)}) | Δ vs baseline | '
        'gap closed (of means) | gap closed per seed | beats baseline | '
        'per seed |',
        '|---|---:|---:|---:|---:|---:|---|',
    ]
    for r in rows:
        std = '' if r['std'] is None else f" ± {r['std']:.2f}"
        if r['stage'] in ('teacher', 'baseline'):
            extra = ['', '', '', '']
        else:
            gp = r['gap_paired']
            extra = [
                f"{r['delta']:+.2f}",
                'n/a' if r['gap'] is None else f"{100 * r['gap']:+.0f}%",
                'n/a' if gp is None else
                f'{100 * gp[0]:+.0f}% ± {100 * gp[1]:.0f}%',
                f"{r['wins']}/{r['n']}",
            ]
        per = ', '.join(f'{v:.2f}' for v in r.get('per_seed', [])) or \
            '(cached teacher)'
        lines.append(f"| {r['label']} | {r['mean']:.2f}{std} | " +
                     ' | '.join(extra) + f' | {per} |')
    return '\n'.join(lines)


# --------------------------------------------------------------------------
# loss probe
# --------------------------------------------------------------------------
def probe_losses(args, voc_dir, teacher):
    """Initial loss magnitudes of every distillation config (no training)."""
    import torch
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope
    from mmengine.runner import set_random_seed

    from mmkd.registry import DATASETS, MODELS
    torch.set_num_threads(1)
    lines = [
        '| method | loss | weight | unweighted (mean of batches) | '
        'weighted | decode CE | weighted / CE |',
        '|---|---|---:|---:|---:|---:|---:|'
    ]
    for m in args.methods:
        cfg = stage_config(m, data_root=voc_dir, work_dir='/tmp',
                           iters=args.iters_dict, seed=0,
                           teacher_checkpoint=teacher.checkpoint)
        set_random_seed(0)
        with DefaultScope.overwrite_default_scope('mmkd'):
            model = MODELS.build(cfg.model)
            dataset = DATASETS.build(cfg.train_dataloader.dataset)
        model.init_weights()
        model.train()
        bs = cfg.train_dataloader.batch_size
        sums = {}
        with torch.no_grad():
            for b in range(args.probe_batches):
                batch = pseudo_collate(
                    [dataset[(b * bs + i) % len(dataset)] for i in range(bs)])
                data = model.data_preprocessor(batch, True)
                losses = model(**data, mode='loss')
                for k, v in losses.items():
                    if 'loss' in k:
                        sums[k] = sums.get(k, 0.0) + float(v)
        n = args.probe_batches
        ce = sums['decode.loss_ce'] / n
        for item in cfg.model.distill:
            key = f"distill.{item['name']}"
            weight = float(item['loss'].get('loss_weight', 1.0))
            weighted = sums[key] / n
            lines.append(
                f"| {QUICKSTART_STAGES[m]['label']} | {item['loss']['type']}"
                f' | {weight:g} | {weighted / weight:.4g} | {weighted:.4g} | '
                f'{ce:.4g} | {weighted / ce:.3g} |')
    return '\n'.join(lines)


# --------------------------------------------------------------------------
def main(argv=None):
    args = parse_args(argv)
    iters = args.iters
    if iters is None and args.tiny:
        iters = 'teacher=2,student=2'
    args.iters_dict = parse_iters(iters)
    if args.tiny and args.data_root == 'data/synthetic_voc':
        args.data_root = 'data/synthetic_voc_tiny'
    if args.tiny and args.quickstart_work_dir == 'work_dirs/quickstart':
        args.quickstart_work_dir = 'work_dirs/quickstart_tiny'
    start = time.time()
    voc_dir, teacher = prepare(args)
    if args.probe_losses:
        print(probe_losses(args, voc_dir, teacher))
        return

    work_dir = osp.abspath(args.work_dir)
    tasks, records = [], []
    for seed in args.seeds:
        for stage in ['baseline'] + list(args.methods):
            run_dir = osp.join(work_dir, stage, f'seed{seed}')
            cfg = stage_config(stage, data_root=voc_dir, work_dir=run_dir,
                               iters=args.iters_dict, seed=seed,
                               teacher_checkpoint=teacher.checkpoint)
            key = _run_key(stage, seed, cfg)
            record = None if args.rerun else _load_record(run_dir, key)
            if record is not None:
                records.append(record)
                continue
            tasks.append(dict(stage=stage, seed=seed, work_dir=run_dir,
                              data_root=voc_dir, iters=args.iters_dict,
                              teacher_checkpoint=teacher.checkpoint, key=key,
                              threads=1))
    print(f'{len(records)} runs done before, {len(tasks)} to train '
          f'({args.jobs} at a time; logs in <run dir>/train.log)')

    def done(record, i):
        elapsed = time.time() - start
        eta = elapsed / i * (len(tasks) - i) if i else 0
        print(f"[{i}/{len(tasks)}] {record['stage']} seed {record['seed']}: "
              f"mIoU {record['metrics']['mIoU']:.2f} "
              f"({record['train_time_s']:.0f}s; elapsed {elapsed / 60:.1f} "
              f'min, ETA {eta / 60:.1f} min)', flush=True)

    if args.jobs <= 1:
        for i, task in enumerate(tasks, 1):
            print(f"training {task['stage']} seed {task['seed']} ...",
                  flush=True)
            records.append(run_one(task))
            done(records[-1], i)
    elif tasks:
        import multiprocessing as mp
        with ProcessPoolExecutor(
                max_workers=args.jobs,
                mp_context=mp.get_context('spawn')) as pool:
            futures = [pool.submit(run_one, t) for t in tasks]
            for i, fut in enumerate(as_completed(futures), 1):
                records.append(fut.result())
                done(records[-1], i)

    rows = summarize(records, teacher.metrics['mIoU'], args.methods,
                     args.seeds)
    student_iters = {r['max_iters'] for r in records}
    header = (
        f'## mmkd efficacy benchmark\n\n'
        f'Synthetic VOC-format data ({voc_dir}), mIoU on its val split. '
        f'Teacher: {QUICKSTART_STAGES["teacher"]["config"]} '
        f'({teacher.max_iters} iterations, mIoU '
        f"{teacher.metrics['mIoU']:.2f}); students: "
        f'{sorted(student_iters)} iterations; seeds {args.seeds}. '
        f'Gap closed = (distilled - baseline) / (teacher - baseline).\n')
    table = format_table(rows, args.seeds)
    text = header + '\n' + table + '\n'
    print('\n' + text)
    out = args.out or osp.join(work_dir, 'efficacy.md')
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    atomic_write_text(text, out)
    atomic_write_json(
        dict(rows=rows, records=records,
             teacher=dict(checkpoint=teacher.checkpoint,
                          metrics=teacher.metrics)),
        osp.splitext(out)[0] + '.json', indent=1)
    print(f'written {out} ({(time.time() - start) / 60:.1f} min)')
    bad = [r['label'] for r in rows if r.get('gap') is not None
           and not math.isnan(r['gap']) and r['delta'] <= 0]
    if bad:
        print('note: ' + ', '.join(bad) + ' did not beat the baseline on '
              'average; see docs/quickstart.md for what was tried')


if __name__ == '__main__':
    main()
