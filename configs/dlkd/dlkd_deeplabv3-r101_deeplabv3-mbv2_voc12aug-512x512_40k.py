# DLKD, DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3 MobileNetV2-D8
# on Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4):
# the recipe of
# configs/baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py
# plus DLKD's alignment and correlation items, each with its own
# MLPProjector. Layer and weights as in
# ./dlkd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py (see its
# header): the last backbone stage of each network, pooled per image; for
# MobileNetV2 that is backbone.layer7 (320 channels, the input of the ASPP
# head, as R101's layer4 is; projected 320 -> 2048). Untuned.
#   python tools/train.py configs/dlkd/dlkd_deeplabv3-r101_deeplabv3-mbv2_voc12aug-512x512_40k.py  # noqa: E501
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
ce_init = 3.04  # ln(21): cross-entropy of a uniform 21-class prediction
align_weight = ce_init / 2.0  # L_align starts at ~2 (R18 config's header)
dlkd_layers = dict(student='backbone.layer7', teacher='backbone.layer4')
dlkd_item = dict(
    **dlkd_layers,
    student_transforms=[dict(type='GlobalAvgPool'), dict(type='MLPProjector')],
    teacher_transforms=[dict(type='GlobalAvgPool')])
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(dlkd_item, name='loss_dlkd_align',
             loss=dict(type='DLKDLoss', align_weight=align_weight,
                       corr_weight=0.0)),
        dict(dlkd_item, name='loss_dlkd_corr',
             loss=dict(type='DLKDLoss', align_weight=0.0,
                       corr_weight=2 * align_weight, tau=0.5)),
    ])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
