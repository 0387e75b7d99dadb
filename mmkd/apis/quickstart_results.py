"""Results of the quickstart: per-stage records, the gap fraction, the
results table and its files (``results.md``, ``results.json``).

The gap fraction of a method is ``(distilled - baseline) / (teacher -
baseline)`` in mIoU: 1 means the distilled student matches the teacher, 0
means distillation did nothing, negative means it hurt.
"""
import os.path as osp
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmkd.utils.atomic_io import atomic_write_json, atomic_write_text

from .quickstart_config import QUICKSTART_STAGES

__all__ = [
    'StageResult', 'QuickstartResult', 'gap_fraction',
    'format_results_table', 'results_markdown', 'save_results'
]


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
    #: The resolved loss-weight rule, diagnostics, warnings (JSON-able).
    extra: dict = field(default_factory=dict)

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
    #: Markdown table of the diagnostics (CKA, gradient ratios, time).
    diagnostics: str = ''

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
                cached=st.get('cached', False),
                extra=dict(st.get('extra') or {}))
        gaps = {r['stage']: r.get('gap') for r in data['results']
                if 'gap' in r}
        out = cls(
            work_dir=data['work_dir'],
            data_root=data['data_root'],
            stages=stages,
            gaps=gaps,
            table='',
            report=dict(data.get('report') or {}),
            wall_time_s=data.get('wall_time_s', 0.0),
            diagnostics=data.get('diagnostics', ''))
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
                    metrics=v.metrics,
                    extra=v.extra)
                for k, v in self.stages.items()
            },
            report=self.report,
            diagnostics=self.diagnostics)


def results_markdown(out: QuickstartResult) -> str:
    """The Markdown summary of a quickstart: what ran, and the table."""
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
    if out.diagnostics:
        lines += ['', '### Diagnostics (one seed)', '', out.diagnostics]
    if out.report:
        lines += ['', 'Report: ' + ', '.join(
            osp.basename(p) for p in out.report.values())]
    return '\n'.join(lines) + '\n'


def save_results(out: QuickstartResult, report_dir: str) -> None:
    """Write ``results.md`` and ``results.json`` to ``report_dir``
    (atomically) and record their paths in ``out.report``."""
    out.report['results.md'] = osp.join(report_dir, 'results.md')
    out.report['results.json'] = osp.join(report_dir, 'results.json')
    atomic_write_text(results_markdown(out), out.report['results.md'])
    atomic_write_json(out.to_dict(), out.report['results.json'], indent=1)
