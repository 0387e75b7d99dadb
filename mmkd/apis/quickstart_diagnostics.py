"""The quickstart's diagnostics: for every distilled student, the linear
CKA of its distilled feature to the teacher's before and after training
(and the student trained alone at the same layer, as the control), the
distillation / task gradient ratio over training, and the training time
relative to the student alone, and what the logit targets say beyond the
labels (:mod:`mmkd.apis.efficacy_targets`), and the IoU of each class
(:mod:`mmkd.apis.efficacy_classes`); with the plots of
:mod:`mmkd.apis.efficacy_plots`."""
import os.path as osp
from typing import Callable, Dict, List

from .efficacy import baseline_cka, format_table, summarize
from .efficacy_classes import class_section
from .efficacy_hooks import load_grad_ratios
from .efficacy_plots import plot_diagnostics
from .efficacy_targets import format_targets, method_targets

__all__ = ['quickstart_diagnostics']


def quickstart_diagnostics(proto, results: Dict, methods: List[str],
                           seed: int, iters, report_dir: str,
                           log: Callable[[str], None] = print) -> dict:
    """Measure and plot the diagnostics of a finished quickstart.

    Returns:
        dict: ``table`` (Markdown, one seed), ``plots`` (name -> path),
        ``controls`` (method -> CKA of the student trained alone) and
        ``targets`` (:func:`~mmkd.apis.efficacy_targets.method_targets`)
        and ``classes`` (per-class IoU: ``teacher`` and ``runs``, as
        :func:`~mmkd.apis.efficacy_classes.class_section` gives them).
    """
    from .efficacy_cka import distill_cka
    from .quickstart_protocol import student_config
    records = []
    for stage in ['baseline'] + list(methods):
        res = results[stage]
        rec = dict(stage=stage, seed=seed, metrics=res.metrics,
                   train_time_s=res.train_time_s,
                   weight_rule=res.extra.get('weight_rule'),
                   grad_ratio=load_grad_ratios(res.work_dir))
        if stage != 'baseline' and res.extra.get('cka'):
            rec['cka'] = res.extra['cka']  # measured by the parallel runs
        elif stage != 'baseline':
            cfg, _ = student_config(stage, proto, res.work_dir, iters, seed,
                                    log=None)
            rec['cka'] = dict(before=distill_cka(cfg, None, seed=seed),
                              after=distill_cka(cfg, res.checkpoint,
                                                seed=seed))
            res.extra['cka'] = rec['cka']
            res.extra['grad_ratio'] = rec['grad_ratio']
        records.append(rec)
    controls = {
        m: baseline_cka(proto, m, results['baseline'].checkpoint, iters)
        for m in methods
    }
    rows = summarize(records, results['teacher'].miou, methods, [seed])
    plots = plot_diagnostics(rows, records, controls, report_dir)
    table = format_table(rows, [seed])
    table += ('\n\nCKA of the student trained alone at each method\'s layer '
              '(raw): ' + ', '.join(
                  f'{m} {next(iter(c.values()))["raw"]:.2f}'
                  for m, c in controls.items()))
    targets = method_targets(proto, methods, results['baseline'].checkpoint,
                             {m: results[m].checkpoint for m in methods},
                             iters)
    table += '\n' + format_targets(targets, seed)
    classes, class_data = class_section(
        proto, [dict(stage=s, seed=seed, checkpoint=results[s].checkpoint)
                for s in ['baseline'] + list(methods)], iters)
    table += classes
    return dict(table=table, controls=controls, targets=targets,
                classes=class_data,
                plots={osp.basename(p): p for p in plots})
