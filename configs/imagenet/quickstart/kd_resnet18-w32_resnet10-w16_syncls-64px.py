# Quickstart KD: the baseline student distilled from the quickstart teacher
# (its checkpoint is set by tools/cls_quickstart.py, or pass
# --cfg-options model.teacher_checkpoint=PATH). Loss = CE + 0.5 * KD(tau=1)
# on the logits: the KD term of the ImageNet ICKD-C recipe, so the ICKD-C
# config differs from this one by its ICC term only.
_base_ = ['./baseline_resnet10-w16_syncls-64px.py']
model = dict(
    _delete_=True,
    type='ClsDistiller',
    student=_base_.student_model,
    teacher=_base_.teacher_model,
    teacher_checkpoint=None,
    data_preprocessor=_base_.data_preprocessor,
    distill=[
        dict(name='loss_kd', student='fc', teacher='fc',
             loss=dict(type='ClsKDLoss', tau=1.0, loss_weight=0.5)),
    ])
