# What every quickstart distillation config shares: the student alone's
# config (model, data, recipe: ../baseline_deeplabv3_r18-w8-d8_synvoc-64x64.py)
# with the student wrapped in a SegDistiller beside the trained quickstart
# teacher (./teacher.py), put in eval mode by TeacherEvalHook. A method's
# config adds its distill items only: `model = dict(distill=[...])`.
_base_ = ['../baseline_deeplabv3_r18-w8-d8_synvoc-64x64.py', './teacher.py']

# Loss weight by a stated rule, never tuned on val: before training, the
# quickstart and tools/benchmark_efficacy.py scale every distill item's
# loss_weight by one factor so that the norm of the distillation gradient on
# the student's parameters is `grad_ratio` times the task loss's, averaged
# over `batches` batches of the *training* split (mmkd/apis/
# efficacy_weights.py; `--probe-losses` prints the measurement). The
# loss_weight of an item is the starting point (the relative weights of
# several items are kept); plain tools/train.py uses it as written.
distill_weight_rule = dict(grad_ratio=0.5, batches=4)

model = dict(_delete_=True,
             type='SegDistiller',
             data_preprocessor=_base_.data_preprocessor,
             student=_base_.student_model,
             teacher=_base_.teacher_model,
             teacher_checkpoint=_base_.teacher_checkpoint,
             distill=[])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
