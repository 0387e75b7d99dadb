# ICKD-S (Liu et al., ICCV 2021) on the quickstart pair:
#   teacher  DeepLabV3 ResNetV1c-18 width 32 (quickstart teacher), frozen
#   student  DeepLabV3 ResNetV1c-18 width 8, exactly the baseline's recipe
#            (this config inherits the baseline and only wraps its model)
# Distilled feature: the decode head's last feature, the output of
# `decode_head.bottleneck` (ASPP fused, conv + BN + ReLU, before Dropout2d
# and the 1x1 classifier; see configs/ickd_voc.py for why pre-dropout),
# 32 channels in the student, 128 in the teacher, lifted by a
# ConvBNConnector; 6x6 on a 96x96 training crop at output stride 16.
# Loss: L = L_seg + ickd_alpha * L_ickd with a 2x2 grid (3x3-pixel cells).
#   python tools/train.py \
#       configs/quickstart/ickd-s2x2_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-96x96.py \
#       --cfg-options model.teacher_checkpoint=PATH/TO/TEACHER.pth
# ickd_alpha: see docs/quickstart.md ("Choosing alpha") for the measured
# initial loss magnitudes this value comes from.
_base_ = ['./baseline_deeplabv3_r18-w8-d16_synvoc-96x96.py', './_base_/teacher.py']

ickd_alpha = 1.0

model = dict(
    _delete_=True,
    type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor,
    student=_base_.student_model,
    teacher=_base_.teacher_model,
    teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(
            name='loss_ickd',
            student_feature=dict(
                module='decode_head.bottleneck', source='output'),
            teacher_feature=dict(
                module='decode_head.bottleneck', source='output'),
            connector=dict(type='ConvBNConnector'),
            resize='bilinear',
            loss=dict(
                type='ICKDLoss',
                grid_size=(2, 2),
                normalize=None,
                loss_weight=ickd_alpha)),
    ])
find_unused_parameters = False
custom_hooks = [dict(type='TeacherEvalHook')]
