import copy

from mmengine.testing import RunnerTestCase

from mmkd.engine.hooks import TeacherEvalHook


class TestTeacherEvalHook(RunnerTestCase):

    def test_needs_a_distiller(self):
        cfg = copy.deepcopy(self.iter_based_cfg)
        cfg.default_scope = 'mmkd'  # the toy model resolves through parents
        cfg.custom_hooks = [dict(type='TeacherEvalHook')]
        runner = self.build_runner(cfg)
        with self.assertRaisesRegex(TypeError, 'needs a distiller model'):
            runner.train()

    def test_compares_after_validation(self):
        cfg = copy.deepcopy(self.iter_based_cfg)
        runner = self.build_runner(cfg)
        hook = TeacherEvalHook(key_metric='acc')
        runner.message_hub.update_info('teacher_metrics', {'acc': 80.0})
        with self.assertLogs(runner.logger, 'INFO') as logs:
            hook.after_val_epoch(runner, metrics={'val/acc': 60.0})
        self.assertIn('acc: student 60.00 vs teacher 80.00 (75.0% of teacher)',
                      '\n'.join(logs.output))
