# MGD-AMP (Yue et al., ECCV 2020; docs/methods.md "MGD") on the quickstart
# pair: MatchingGuidedLoss on the 4 backbone stages before their final ReLU
# (input of the last ReLU call of each stage's last BasicBlock: bn2(x) +
# identity), 4 teacher channels (32/64/128/256) per student channel
# (8/16/32/64), no adapter besides the loss's student-side BN. As in the
# paper, the student starts from pretrained weights (here the pretext
# backbone, mmkd/apis/pretext.py) and the assignment, not a trainable
# connector, pairs its channels with the teacher's.
_base_ = [
    './baseline_deeplabv3_r18-w8-d8_synvoc-64x64.py', './_base_/teacher.py'
]

# Loss weight by a stated rule, never tuned on val: before training, the
# quickstart and tools/benchmark_efficacy.py scale every distill item's
# loss_weight by one factor so that the norm of the distillation gradient on
# the student's parameters is `grad_ratio` times the task loss's, averaged
# over `batches` batches of the *training* split (mmkd/apis/
# efficacy_weights.py; `--probe-losses` prints the measurement). For MGD the
# probe first solves the matching on the hook's image set, so the rule
# measures the loss the student trains with.
distill_weight_rule = dict(grad_ratio=0.5, batches=4)

model = dict(_delete_=True,
             type='SegDistiller',
             data_preprocessor=_base_.data_preprocessor,
             student=_base_.student_model,
             teacher=_base_.teacher_model,
             teacher_checkpoint=_base_.teacher_checkpoint,
             distill=[
                 dict(name='loss_mgd',
                      student=[dict(module=f'backbone.layer{i}.1.relu',
                                    source='input') for i in (1, 2, 3, 4)],
                      teacher=[dict(module=f'backbone.layer{i}.1.relu',
                                    source='input') for i in (1, 2, 3, 4)],
                      loss=dict(type='MatchingGuidedLoss', reduction='amp',
                                loss_factor=1.0)),
             ])
find_unused_parameters = False
# Coordinate descent: match before training and every 200 iterations (3
# matchings in 600) on 256 fixed *training* images without augmentation
# (never the val split).
mgd_loader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_base_.train_dataloader.dataset,
                 pipeline=_base_.test_pipeline))
custom_hooks = _base_.custom_hooks + [
    dict(type='TeacherEvalHook'),
    dict(type='MatchingGuidedHook', interval=200, num_images=256,
         dataloader=mgd_loader)
]
