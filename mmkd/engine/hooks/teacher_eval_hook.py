"""Evaluate the frozen teacher once so the logs show teacher vs student."""
from typing import Dict, Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.utils import ProgressBar

from mmkd.registry import HOOKS


@HOOKS.register_module()
class TeacherEvalHook(Hook):
    """Evaluate the teacher on the validation set once, before training.

    The teacher never changes during distillation, so one evaluation is
    enough. Its metrics are logged as ``teacher/<metric>``; after every
    validation the hook logs the student's value of ``key_metric`` next to
    the teacher's, with the fraction of the teacher's score the student
    reaches. The metrics are kept in the message hub, so a resumed run does
    not evaluate the teacher again.

    Args:
        key_metric (str): Metric compared after each validation (the last
            part of its name: ``'mIoU'``, ``'top1'``). Defaults to
            ``'mIoU'``.
    """

    priority = 'LOW'
    #: Dropped from the config when only the student is evaluated.
    needs_distiller = True

    def __init__(self, key_metric: str = 'mIoU'):
        self.key_metric = key_metric

    @staticmethod
    def _distiller(runner):
        model = runner.model
        if is_model_wrapper(model):
            model = model.module
        if not hasattr(model, 'predicting_with'):
            raise TypeError(
                f'TeacherEvalHook needs a distiller model, got '
                f'{type(model).__name__}; remove the hook from custom_hooks')
        return model

    def _teacher_metrics(self, runner) -> Optional[Dict[str, float]]:
        return runner.message_hub.get_info('teacher_metrics')

    def before_train(self, runner) -> None:
        if runner.val_loop is None or self._teacher_metrics(runner):
            return
        metrics = self.evaluate_teacher(runner)
        runner.message_hub.update_info('teacher_metrics', metrics)
        runner.logger.info(
            'Teacher evaluation: ' + ', '.join(
                f'{k}: {v:.2f}' for k, v in metrics.items()))
        runner.visualizer.add_scalars(
            {f'teacher/{k}': v for k, v in metrics.items()}, step=runner.iter)

    def after_val_epoch(self, runner, metrics=None) -> None:
        teacher = self._teacher_metrics(runner)
        if not teacher or not metrics:
            return
        key = next((k for k in metrics
                    if k.split('/')[-1] == self.key_metric), None)
        if key is None or self.key_metric not in teacher:
            return
        student, ref = float(metrics[key]), teacher[self.key_metric]
        ratio = f' ({100 * student / ref:.1f}% of teacher)' if ref else ''
        runner.logger.info(f'{self.key_metric}: student {student:.2f} vs '
                           f'teacher {ref:.2f}{ratio}')

    @torch.no_grad()
    def evaluate_teacher(self, runner) -> Dict[str, float]:
        """Run the validation set through the teacher; return its metrics."""
        distiller = self._distiller(runner)
        loop = runner.val_loop
        was_training = runner.model.training
        runner.model.eval()
        runner.logger.info('Evaluating the teacher on the validation set')
        progress = ProgressBar(len(loop.dataloader.dataset))
        try:
            with distiller.predicting_with('teacher'):
                for data_batch in loop.dataloader:
                    outputs = runner.model.val_step(data_batch)
                    loop.evaluator.process(
                        data_samples=outputs, data_batch=data_batch)
                    for _ in range(len(outputs)):
                        progress.update()
            metrics = loop.evaluator.evaluate(len(loop.dataloader.dataset))
        finally:
            runner.model.train(was_training)
        # Plain floats: the message hub is saved in checkpoints.
        return {k.split('/')[-1]: float(v) for k, v in metrics.items()}
