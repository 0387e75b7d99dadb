# Pixel-wise KD (Hinton et al. 2015) on the quickstart pair, the logit-level
# reference next to ICKD-S:
#   L = L_seg + kd_weight * tau^2 * KL(softmax(z_T / tau) || softmax(z_S / tau))
# per pixel on the class logits (output of decode_head.conv_seg, 10 classes,
# same size in both models), averaged over non-ignored pixels. The student
# and its recipe are exactly the baseline's (this config inherits it).
#   python tools/train.py \
#       configs/quickstart/kd_deeplabv3-r18-w16_deeplabv3-r18-w8_synvoc-96x96.py \
#       --cfg-options model.teacher_checkpoint=PATH/TO/TEACHER.pth
_base_ = ['./baseline_deeplabv3_r18-w8-d16_synvoc-96x96.py', './_base_/teacher.py']

kd_tau = 1.0
kd_weight = 1.0

model = dict(
    _delete_=True,
    type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor,
    student=_base_.student_model,
    teacher=_base_.teacher_model,
    teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(
            name='loss_kd',
            student=dict(
                module='decode_head.conv_seg', source='output'),
            teacher=dict(
                module='decode_head.conv_seg', source='output'),
            loss=dict(
                type='KDLoss',
                tau=kd_tau,
                loss_weight=kd_weight,
                ignore_index=255)),
    ])
find_unused_parameters = False
custom_hooks = [dict(type='TeacherEvalHook')]
