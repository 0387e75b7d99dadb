# DLKD (Ding et al., TNNLS 2022) on the last backbone stage, pooled per
# image (docs/methods.md): an alignment item and a correlation item, each
# with its own MLPProjector, in the paper's 10 : 20 ratio.
_base_ = ['./_base_/distill.py']

model = dict(distill=[
    dict(name='loss_dlkd_align',
         student=dict(module='backbone.layer4', source='output'),
         teacher=dict(module='backbone.layer4', source='output'),
         student_transforms=[
             dict(type='GlobalAvgPool'),
             dict(type='MLPProjector')
         ],
         teacher_transforms=[dict(type='GlobalAvgPool')],
         loss=dict(type='DLKDLoss',
                   align_weight=10,
                   corr_weight=0)),
    dict(name='loss_dlkd_corr',
         student=dict(module='backbone.layer4', source='output'),
         teacher=dict(module='backbone.layer4', source='output'),
         student_transforms=[
             dict(type='GlobalAvgPool'),
             dict(type='MLPProjector')
         ],
         teacher_transforms=[dict(type='GlobalAvgPool')],
         loss=dict(type='DLKDLoss',
                   align_weight=0,
                   corr_weight=20,
                   tau=0.5)),
])
