"""The efficacy table over several teachers.

A teacher of the same recipe trained with another seed is another teacher
(on the synthetic protocol two of equal mIoU gave ICKD-S 60% and 52% of
the gap), so one teacher's table measures one draw.
``tools/benchmark_efficacy.py --teacher-seeds 0 1 2`` trains one teacher per
seed (same data and pretext backbones), the student alone once
(it does not depend on the teacher) and every method under each teacher;
:func:`summarize_teachers` takes each teacher's rows
(:func:`~mmkd.apis.efficacy.summarize`) and reports, per method, the
fraction of the gap closed under each teacher and its mean and spread over
teachers, how many teachers it beats the student alone by 2 std under, and
its wins over every (teacher, seed) pair.
"""
from typing import Dict, List, Sequence

from .efficacy import _mean_std

__all__ = ['summarize_teachers', 'format_teachers_table', 'teachers_report']


def summarize_teachers(rows_by_teacher: Dict[int, List[dict]]) -> List[dict]:
    """Rows over teachers.

    Args:
        rows_by_teacher (dict): Teacher seed -> that teacher's rows
            (:func:`~mmkd.apis.efficacy.summarize`, same methods and seeds
            for every teacher).

    Returns:
        list[dict]: ``teacher`` (its mIoU per seed and mean / std), the
        ``baseline`` (shared by the teachers) and one row per method:
        ``per_teacher`` (mean mIoU), ``gaps`` (fraction of the gap closed,
        of the means, per teacher; None where the teacher does not beat the
        student alone), ``gap`` (mean, std of those), ``beats`` (teachers
        it beats the student alone by 2 std under), ``wins`` and ``runs``
        (over every teacher and seed).
    """
    if not rows_by_teacher:
        raise ValueError('summarize_teachers: no teacher rows')
    seeds = list(rows_by_teacher)
    by = {k: {r['stage']: r for r in rows} for k, rows in
          rows_by_teacher.items()}
    stages = [r['stage'] for r in rows_by_teacher[seeds[0]]]
    for k in seeds[1:]:
        if [r['stage'] for r in rows_by_teacher[k]] != stages:
            raise ValueError(f'teacher seed {k} has other rows than teacher '
                             f'seed {seeds[0]}: {list(by[k])} vs {stages}')
    out = []
    for stage in stages:
        first = by[seeds[0]][stage]
        per = [by[k][stage]['mean'] for k in seeds]
        mean, std = _mean_std(per)
        row = dict(stage=stage, label=first['label'], teachers=seeds,
                   per_teacher=per, mean=mean, std=std)
        if stage not in ('teacher', 'baseline'):
            gaps = [by[k][stage]['gap'] for k in seeds]
            known = [g for g in gaps if g is not None]
            row.update(
                gaps=gaps, gap=_mean_std(known) if known else None,
                beats=sum(bool(by[k][stage]['beats_2std']) for k in seeds),
                beats_known=sum(by[k][stage]['beats_2std'] is not None
                                for k in seeds),
                wins=sum(by[k][stage]['wins'] for k in seeds),
                runs=sum(by[k][stage]['n'] for k in seeds))
        out.append(row)
    return out


def _pct(value) -> str:
    return 'n/a' if value is None else f'{100 * value:+.0f}%'


def format_teachers_table(rows: List[dict], seeds: Sequence[int]) -> str:
    """The Markdown table of :func:`summarize_teachers`'s rows."""
    teachers = rows[0]['teachers']
    names = ' / '.join(str(k) for k in teachers)
    lines = [
        f'| model | mIoU under teacher seed {names} (mean over student '
        f'seeds {list(seeds)}) | gap closed per teacher | gap closed, mean '
        '± std over teachers | > 2 std (teachers) | wins (teacher × seed) |',
        '|---|---|---|---:|:-:|---:|',
    ]
    for r in rows:
        per = ' / '.join(f'{v:.2f}' for v in r['per_teacher'])
        if r['stage'] == 'baseline':
            per = f"{r['mean']:.2f} (trained once: the same runs for every "\
                  'teacher)'
        if r['stage'] in ('teacher', 'baseline'):
            lines.append(f"| {r['label']} | {per} | | | | |")
            continue
        gaps = ' / '.join(_pct(g) for g in r['gaps'])
        gap = 'n/a' if r['gap'] is None else (
            f"{100 * r['gap'][0]:+.0f}% ± {100 * r['gap'][1]:.0f}%")
        beats = 'n/a' if not r['beats_known'] else \
            f"{r['beats']}/{r['beats_known']}"
        lines.append(f"| {r['label']} | {per} | {gaps} | {gap} | {beats} | "
                     f"{r['wins']}/{r['runs']} |")
    return '\n'.join(lines)


def teachers_report(rows: List[dict], student_seeds: Sequence[int],
                    tables: Dict[int, str]) -> str:
    """The Markdown report: what was run, the table over teachers, and
    where each teacher's own table is (``tables``: teacher seed -> path)."""
    files = ', '.join(f'{k}: {path}' for k, path in tables.items())
    return ('## mmkd efficacy benchmark over teachers\n\n'
            f'Teachers of the same recipe and pretext backbones, seeds '
            f'{list(tables)}; student seeds {list(student_seeds)}; the '
            'student alone trained once. Gap closed per teacher: of the '
            'means under that teacher; "> 2 std": teachers under which the '
            'method beats the student alone by more than twice the larger '
            "seed std. Each teacher's table (weights, CKA, gradient "
            f'ratios, plots): {files}.\n\n'
            + format_teachers_table(rows, student_seeds) + '\n')
