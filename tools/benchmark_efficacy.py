"""Efficacy benchmark: does each distillation method beat the student alone,
over seeds, in the papers' regime?

The protocol (mmkd/apis/quickstart_protocol.py): backbones pretrained once
on the dataset's object-crop classification pretext (the ImageNet analogue),
a teacher trained long from its pretrained backbone (both cached), and the
student fine-tuned from its pretrained backbone alone and with every method,
same recipe and seeds, each method's loss weight set by the rule written in
its config (distillation gradient = grad_ratio x task gradient on the
student at the start, measured on the training split). Prints and writes a
Markdown table: mean +- std mIoU, delta, fraction of the teacher-student gap
closed (of the means, and per seed with its spread), wins per seed,
training time relative to the student alone, the resolved weights, the
distilled feature's linear CKA to the teacher's before -> after training,
and the distillation / task gradient ratio at the start -> end; below it,
what the teacher's logit targets hold beyond the labels and the IoU of
each class (teacher, student alone, each method).

    python tools/benchmark_efficacy.py                        # all methods
    python tools/benchmark_efficacy.py --methods ickd kd --seeds 0 1 2
    python tools/benchmark_efficacy.py --data-root DIR        # any VOC layout
    python tools/benchmark_efficacy.py --probe-losses         # weights only
    python tools/benchmark_efficacy.py --teacher-seeds 0 1 2  # 3 teachers
    python tools/benchmark_efficacy.py --profile gpu256       # 256 px, R50
                                                              # -> R18 (GPU)

``--data-root DIR``: DIR (or DIR/VOC2012) in the Pascal VOC layout is used
as it is (read only; its classes come from its labels, names from its
meta.json or classes.txt); otherwise the synthetic data is generated there.
Finished runs leave ``result.json`` and are not run again (``--rerun``).

``--teacher-seeds K ...``: one teacher per seed (same recipe, data and
pretext backbones; the config's seed is the cached quickstart teacher,
another K is cached in ``<protocol-dir>/teacher_seed<K>/``), every method
under each (runs in ``<work-dir>/teacher_seed<K>/``), the student alone
once; each teacher's table in its run dir, and the gap closed per teacher
with its mean and spread over teachers in ``<work-dir>/efficacy_teachers.md``
(:mod:`mmkd.apis.efficacy_teachers`).
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

try:
    import mmkd  # noqa: F401
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
    import mmkd  # noqa: F401

from mmkd.apis.efficacy import (baseline_cka, format_table, load_record,
                                run_key, run_tasks, schedule_dir, summarize)
from mmkd.apis.efficacy_classes import class_section
from mmkd.apis.efficacy_targets import format_targets, method_targets
from mmkd.apis.quickstart_config import (EFFICACY_METHODS,
                                         QUICKSTART_DISTILL_STAGES,
                                         QUICKSTART_TINY_ITERS, parse_iters)
from mmkd.utils.atomic_io import atomic_write_json, atomic_write_text

METHODS = list(QUICKSTART_DISTILL_STAGES)


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Every distillation method vs the student alone over '
        'seeds, with pretext-pretrained backbones and a cached teacher')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--methods', nargs='+', default=list(EFFICACY_METHODS),
                   choices=METHODS,
                   help='default: every method of the table (%(default)s); '
                   'the ICKD-S variants tried are run by name')
    p.add_argument('--work-dir', default=None,
                   help='runs go to <work-dir>/<stage>/seed<k>/ (default '
                   'work_dirs/efficacy, work_dirs/efficacy_<profile> with '
                   '--profile)')
    p.add_argument(
        '--profile', default=None,
        help='the protocol at other sizes and models: a file name in '
        'configs/quickstart/profiles/ (gpu256: 256 px data, ResNet-50 '
        'teacher, ResNet-18 student, bf16; for a GPU) or a path; its data '
        'and caches get their own dirs (see the file)')
    p.add_argument(
        '--protocol-dir', default=None,
        help='pretext backbones and teacher cache (default: '
        'work_dirs/quickstart, shared with tools/quickstart.py, for the '
        'synthetic data; <work-dir>/protocol with a VOC-layout --data-root)')
    p.add_argument('--data-root', default=None,
                   help='a dataset in the Pascal VOC layout (DIR or '
                   'DIR/VOC2012), or where the synthetic data is generated '
                   '(default data/synthetic_voc)')
    p.add_argument('--iters', default=None,
                   help="as tools/quickstart.py: '0.5x' or "
                   "'teacher=N,student=M,pretext=P' (default: the "
                   'configs\' schedules, students 1800 iterations); '
                   'with student=M (even 1800) or a scale other than 1 '
                   'the students run and report in WORK_DIR/student<M>/ '
                   '(or student-x<scale>/), beside the default runs')
    p.add_argument('--jobs', type=int, default=2,
                   help='runs at a time, each its own process with one '
                   'CPU thread (default 2)')
    p.add_argument('--teacher-seeds', type=int, nargs='+', default=None,
                   help="teachers' seeds: one teacher each, the table "
                   'under each and over them (default: one teacher, its '
                   "config's seed)")
    p.add_argument('--rerun', action='store_true')
    p.add_argument('--no-diagnostics', action='store_true',
                   help='skip the CKA measurements')
    p.add_argument('--out', default=None,
                   help='Markdown output (default <work-dir>/efficacy.md; '
                   'with several --teacher-seeds the table over teachers, '
                   'default <work-dir>/efficacy_teachers.md)')
    p.add_argument('--tiny', action='store_true',
                   help='tiny data and 2 iterations per stage (a pipeline '
                   'check)')
    p.add_argument('--sweep-ratios', type=float, nargs='+', default=None,
                   help='instead of the table: train --methods with each '
                   'of these weight-rule ratios on the training split '
                   'minus a held-out part and report mIoU on that part '
                   '(the val split is never read); <work-dir>/sweep/')
    p.add_argument('--holdout-fraction', type=float, default=0.2,
                   help='fraction of the training images the sweep holds '
                   'out (default 0.2)')
    p.add_argument('--holdout-seed', type=int, default=0,
                   help='seed of the draw of held-out images (default 0, '
                   'in <work-dir>/sweep/; another K draws other images, '
                   'in <work-dir>/sweep_draw<K>/, with its own pretext '
                   'and teacher)')
    p.add_argument('--probe-losses', action='store_true',
                   help='only measure the gradient norms behind the weight '
                   'rule at the start of training (training split)')
    args = p.parse_args(argv)
    if len(set(args.seeds)) != len(args.seeds):
        p.error('--seeds must be distinct')
    ts = args.teacher_seeds
    if ts and len(set(ts)) != len(ts):
        p.error('--teacher-seeds must be distinct')
    if ts and len(ts) > 1 and (args.sweep_ratios or args.probe_losses):
        p.error('--sweep-ratios and --probe-losses use one teacher: give '
                '--teacher-seeds one seed (or none)')
    from mmkd.apis.quickstart_profile import load_profile
    try:
        args.profile_cfg = load_profile(args.profile)
    except ValueError as err:
        p.error(str(err))
    if args.work_dir is None:
        name = args.profile_cfg.name if args.profile_cfg is not None else ''
        args.work_dir = 'work_dirs/efficacy' + (f'_{name}' if name else '')
    iters = args.iters
    if iters is None and args.tiny:
        iters = dict(QUICKSTART_TINY_ITERS)
    try:
        args.iters_dict = parse_iters(iters)
    except ValueError as err:
        p.error(str(err))
    return args


def _voc_dir(path):
    """``path`` or ``path/VOC2012`` if it is a VOC-layout dataset not made
    by the synthetic generator, else None."""
    for d in (path, osp.join(path, 'VOC2012')):
        if osp.isfile(osp.join(d, 'ImageSets', 'Segmentation', 'train.txt')):
            meta = osp.join(d, 'meta.json')
            if osp.isfile(meta):
                with open(meta) as f:
                    if json.load(f).get('generator', '').startswith(
                            'mmkd.datasets.synthetic_voc'):
                        return None
            return d
    return None


def _teacher_seed(args):
    return args.teacher_seeds[0] if args.teacher_seeds else None


def prepare(args, data_only=False, teacher_seed=None):
    """The protocol (data, pretext backbones, the teacher of
    ``teacher_seed``); with ``data_only`` just ``(voc_dir, info,
    synthetic)`` of the data."""
    from mmkd.apis.quickstart_profile import profile_data
    from mmkd.apis.quickstart_protocol import prepare_data, prepare_protocol
    from mmkd.apis.quickstart_train import collect_env_once
    voc_dir = _voc_dir(args.data_root) if args.data_root else None
    suffix = '_tiny' if args.tiny else ''
    profile = args.profile_cfg
    data_root, proto_root = ('data/synthetic_voc', 'work_dirs/quickstart') \
        if profile is None else (profile.data_root, profile.protocol_dir)
    data_root = args.data_root or data_root + suffix
    proto_dir = osp.abspath(args.protocol_dir or (
        osp.join(args.work_dir, 'protocol') if voc_dir else
        proto_root + suffix))
    if data_only:
        return prepare_data(
            proto_dir, data_root, voc_dir, tiny=args.tiny,
            data_kwargs=profile_data(profile, args.tiny))
    with collect_env_once():
        return prepare_protocol(proto_dir, data_root, voc_dir=voc_dir,
                                tiny=args.tiny, iters=args.iters_dict,
                                teacher_seed=teacher_seed, profile=profile)


def run_all(tasks, jobs, start):
    """Train ``tasks`` (``jobs`` at a time, each in its own process);
    returns their records in the order they finish."""

    def done(record, i):
        elapsed = time.time() - start
        ratio = record.get('grad_ratio_override')
        what = record['stage'] + ('' if ratio is None else
                                  f' (grad_ratio {ratio:g})')
        print(f"[{i}/{len(tasks)}] {what} seed {record['seed']}: "
              f"mIoU {record['metrics']['mIoU']:.2f} "
              f"({record['train_time_s']:.0f}s; elapsed {elapsed / 60:.1f} "
              'min)', flush=True)

    return run_tasks(tasks, jobs, done)


def sweep(args, start):
    """--sweep-ratios: held-out mIoU per method and ratio; pretext and
    teacher retrained without the held-out images (the full dataset's are
    not needed, so not prepared)."""
    from mmkd.apis.efficacy_sweep import (best_ratios, holdout_dataset,
                                          sweep_table, sweep_tasks)
    from mmkd.apis.quickstart_protocol import prepare_protocol
    from mmkd.apis.quickstart_train import collect_env_once
    work_dir = osp.abspath(args.work_dir)
    sub = 'sweep' if args.holdout_seed == 0 else \
        f'sweep_draw{args.holdout_seed}'
    voc_dir, info, _ = prepare(args, data_only=True)
    data = holdout_dataset(voc_dir, osp.join(work_dir, sub, 'data'),
                           args.holdout_fraction, seed=args.holdout_seed,
                           classes=info['classes'])
    print(f'sweep: {data} holds out {args.holdout_fraction:g} of the '
          f'training images (draw {args.holdout_seed}) as its val split; '
          'pretext, teacher and students train on the rest', flush=True)
    with collect_env_once():
        held = prepare_protocol(osp.join(work_dir, sub, 'protocol'),
                                voc_dir=data, iters=args.iters_dict,
                                teacher_seed=_teacher_seed(args),
                                profile=args.profile_cfg)
    # another teacher's runs go to their own dirs (no cached run is lost)
    runs = osp.relpath(schedule_dir(_runs_dir(osp.join(work_dir, sub), held),
                                    args.iters_dict), work_dir)
    records, tasks = split_done(
        sweep_tasks(held, work_dir, args.methods, args.sweep_ratios,
                    args.seeds, args.iters_dict, subdir=runs), args)
    records += run_all(tasks, args.jobs, start)
    text = (f'## Weight-rule ratio sweep on held-out training images\n\n'
            f'Held out: {args.holdout_fraction:g} of the training split '
            f'(fixed draw {args.holdout_seed}), unseen by pretext, teacher '
            f'and students (teacher {held.teacher.miou:.2f} on them); seeds '
            f'{args.seeds}; the val split is not read.'
            f'\n\n{sweep_table(records)}\n\nChosen: ' + ', '.join(
                f'{m} grad_ratio={r:g}'
                for m, r in best_ratios(records).items()) + '\n')
    out = osp.join(work_dir, runs, f"sweep_{'-'.join(args.methods)}.md")
    atomic_write_text(text, out)
    atomic_write_json(dict(records=records), out[:-3] + '.json')
    print(text + f'\nwritten {out} ({(time.time() - start) / 60:.1f} min)')


def main(argv=None):
    args = parse_args(argv)
    start = time.time()
    if args.sweep_ratios:
        sweep(args, start)
        return
    protos = {k: prepare(args, teacher_seed=k)
              for k in (args.teacher_seeds or [None])}
    if args.probe_losses:
        from mmkd.apis.efficacy_weights import probe_table
        print(probe_table(next(iter(protos.values())), args.methods,
                          args.iters_dict))
        return
    # runs at another student schedule keep their own dirs
    work_dir = schedule_dir(osp.abspath(args.work_dir), args.iters_dict)
    tasks = []
    for i, proto in enumerate(protos.values()):
        # the student alone does not depend on the teacher: trained once
        stages = (['baseline'] if i == 0 else []) + list(args.methods)
        tasks += [dict(stage=stage, seed=seed, teacher_seed=proto.teacher_seed,
                       work_dir=osp.join(
                           work_dir if stage == 'baseline' else
                           _runs_dir(work_dir, proto), stage, f'seed{seed}'),
                       iters=args.iters_dict, protocol=proto, threads=1,
                       diagnostics=not args.no_diagnostics)
                  for seed in args.seeds for stage in stages]
    records, tasks = split_done(tasks, args)
    records += run_all(tasks, args.jobs, start)

    base = [r for r in records if r['stage'] == 'baseline']
    first = next(r for r in base if r['seed'] == args.seeds[0])
    rows_by_teacher = {}
    for proto in protos.values():
        mine = base + [r for r in records if r['stage'] != 'baseline' and
                       r['teacher_seed'] == proto.teacher_seed]
        rows = summarize(mine, proto.teacher.miou, args.methods, args.seeds)
        if args.profile_cfg is not None:
            for row in rows:
                row['label'] = args.profile_cfg.labels.get(row['stage'],
                                                           row['label'])
        controls, targets, classes = {}, {}, ('', {})
        if not args.no_diagnostics:
            for m in args.methods:
                controls[m] = baseline_cka(proto, m, first['checkpoint'],
                                           args.iters_dict)
            targets = method_targets(
                proto, args.methods, first['checkpoint'],
                {r['stage']: r['checkpoint'] for r in mine
                 if r['seed'] == args.seeds[0]}, args.iters_dict)
            classes = class_section(proto, mine, args.iters_dict)
        out = args.out if len(protos) == 1 and args.out else osp.join(
            _runs_dir(work_dir, proto), 'efficacy.md')
        write_outputs(args, proto, rows, mine, controls, start, out,
                      targets, classes)
        rows_by_teacher[proto.teacher_seed] = rows
    if len(protos) > 1:
        write_teachers(args, protos, rows_by_teacher, start)


def _runs_dir(work_dir, proto):
    """``work_dir`` for the config's teacher, ``work_dir/teacher_seed<k>``
    (the name of its cache dir) for another."""
    name = osp.basename(proto.teacher.work_dir.rstrip('/'))
    return work_dir if name == 'teacher' else osp.join(work_dir, name)


def write_teachers(args, protos, rows_by_teacher, start):
    from mmkd.apis.efficacy_teachers import summarize_teachers, \
        teachers_report
    work_dir = schedule_dir(osp.abspath(args.work_dir), args.iters_dict)
    rows = summarize_teachers(rows_by_teacher)
    text = teachers_report(rows, args.seeds, {
        k: osp.relpath(osp.join(_runs_dir(work_dir, p), 'efficacy.md'),
                       work_dir) for k, p in protos.items()})
    out = args.out or osp.join(work_dir, 'efficacy_teachers.md')
    print('\n' + text)
    atomic_write_text(text, out)
    atomic_write_json(dict(rows=rows, teacher_seeds=list(protos)),
                      osp.splitext(out)[0] + '.json', indent=1)
    print(f'written {out} ({(time.time() - start) / 60:.1f} min)')


def split_done(tasks, args):
    """``(records, tasks)``: the finished runs' records (a ``result.json``
    whose key matches what the run would learn from; none with
    ``--rerun``) and the tasks still to train, each given its key."""
    from mmkd.apis.quickstart_protocol import protocol_config
    records, todo = [], []
    for task in tasks:
        cfg = protocol_config(task['stage'], task['protocol'],
                              task['work_dir'],
                              args.iters_dict, task['seed'],
                              task.get('grad_ratio'))
        task['key'] = run_key(task['stage'], task['seed'], cfg)
        record = None if args.rerun else load_record(task['work_dir'],
                                                     task['key'])
        if record is not None:
            records.append(dict(record,
                                teacher_seed=task.get('teacher_seed')))
        else:
            todo.append(task)
    print(f'{len(records)} runs done before, {len(todo)} to train '
          f'({args.jobs} at a time; logs in <run dir>/train.log)',
          flush=True)
    return records, todo


def write_outputs(args, proto, rows, records, controls, start, out,
                  targets=None, classes=('', {})):
    from mmkd.apis.efficacy_plots import plot_diagnostics
    t = proto.teacher
    student_iters = sorted({r['max_iters'] for r in records})
    header = (
        '## mmkd efficacy benchmark\n\n'
        f"Data: {proto.voc_dir} ({proto.info['num_classes']} classes, "
        f"{proto.info['num_train']} train / {proto.info['num_val']} val), "
        f'mIoU on val. Backbones pretrained on the train split\'s object '
        f'crops; teacher {t.max_iters} iterations, seed '
        f'{proto.teacher_seed}, mIoU {t.miou:.2f}; '
        f'students fine-tuned {student_iters} iterations; seeds '
        f'{args.seeds}. Gap closed = (distilled - baseline) / (teacher - '
        'baseline). "> 2 std": mean gain above twice the larger of the two '
        'seed stds. CKA raw: linear CKA of the distilled student feature '
        '(before its connector) to the teacher\'s on 64 val images.\n')
    table = format_table(rows, args.seeds)
    text = header + '\n' + table + '\n'
    if controls:
        text += ('\nCKA of the student trained alone (seed '
                 f'{args.seeds[0]}) at each method\'s layer, raw: ' +
                 ', '.join(f'{m} {next(iter(c.values()))["raw"]:.2f}'
                           for m, c in controls.items()) + '\n')
    text += format_targets(targets or {}, args.seeds[0]) + classes[0]
    warnings = [r['warning'] for r in records if r.get('warning')]
    if warnings:
        text += '\nWarnings:\n' + ''.join(f'- {w}\n' for w in warnings)
    os.makedirs(osp.dirname(osp.abspath(out)), exist_ok=True)
    plots = plot_diagnostics(rows, records, controls,
                             osp.dirname(osp.abspath(out)))
    if plots:
        text += '\nPlots: ' + ', '.join(osp.basename(p) for p in plots) + '\n'
    print('\n' + text)
    atomic_write_text(text, out)
    atomic_write_json(
        dict(rows=rows, records=records, controls=controls,
             logit_targets=targets or {}, class_iou=classes[1],
             teacher=dict(checkpoint=t.checkpoint, metrics=t.metrics,
                          seed=proto.teacher_seed),
             info={k: v for k, v in proto.info.items()}),
        osp.splitext(out)[0] + '.json', indent=1)
    print(f'written {out} ({(time.time() - start) / 60:.1f} min)')


if __name__ == '__main__':
    main()
