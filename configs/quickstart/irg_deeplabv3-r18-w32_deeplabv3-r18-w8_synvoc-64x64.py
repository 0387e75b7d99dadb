# IRG (Liu et al., CVPR 2019), docs/methods.md: vertex term on the class
# logits, edge term on the pooled last stage, transformation term between
# the first and last block of stage 3 (both ResNet-18), equal weights.
_base_ = [
    './baseline_deeplabv3_r18-w8-d8_synvoc-64x64.py', './_base_/teacher.py'
]

# Loss weight by a stated rule, never tuned on val: before training, the
# quickstart and tools/benchmark_efficacy.py scale every distill item's
# loss_weight by one factor so that the norm of the distillation gradient on
# the student's parameters is `grad_ratio` times the task loss's, averaged
# over `batches` batches of the *training* split (mmkd/apis/
# efficacy_weights.py; `--probe-losses` prints the measurement). The
# loss_weight below is the starting point (the relative weights of several
# items are kept); plain tools/train.py uses it as written.
distill_weight_rule = dict(grad_ratio=0.5, batches=4)

model = dict(_delete_=True,
             type='SegDistiller',
             data_preprocessor=_base_.data_preprocessor,
             student=_base_.student_model,
             teacher=_base_.teacher_model,
             teacher_checkpoint=_base_.teacher_checkpoint,
             distill=[
                 dict(name='loss_irg_vertex',
                      student=dict(module='decode_head.conv_seg',
                                   source='output'),
                      teacher=dict(module='decode_head.conv_seg',
                                   source='output'),
                      loss=dict(type='IRGVertexLoss', loss_weight=1.0)),
                 dict(name='loss_irg_edge',
                      student=dict(module='backbone.layer4', source='output'),
                      teacher=dict(module='backbone.layer4', source='output'),
                      student_transforms=[dict(type='GlobalAvgPool')],
                      teacher_transforms=[dict(type='GlobalAvgPool')],
                      loss=dict(type='IRGEdgeLoss', loss_weight=1.0)),
                 dict(name='loss_irg_transformation',
                      student=[
                          dict(module='backbone.layer3.0', source='output'),
                          dict(module='backbone.layer3.1', source='output')
                      ],
                      teacher=[
                          dict(module='backbone.layer3.0', source='output'),
                          dict(module='backbone.layer3.1', source='output')
                      ],
                      student_transforms=[dict(type='GlobalAvgPool')],
                      teacher_transforms=[dict(type='GlobalAvgPool')],
                      loss=dict(type='IRGTransformationLoss',
                                loss_weight=1.0)),
             ])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
