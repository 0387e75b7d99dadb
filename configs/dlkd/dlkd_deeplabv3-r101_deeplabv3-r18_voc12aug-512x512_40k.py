# DLKD (Ding et al., TNNLS 2022; docs/methods.md "DLKD"), DeepLabV3 R101-D8
# (mmseg zoo, 78.70 mIoU) -> DeepLabV3 R18-D8 on Pascal VOC 2012 aug,
# 512x512, 40k iterations, batch 16 (4 GPUs x 4): the recipe of
# configs/baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py plus an
# alignment and a correlation term, two distill items each with its own
# MLPProjector (Linear-BN-ReLU-Linear, 512 -> 2048), as the paper's two
# projectors.
#   python tools/train.py configs/dlkd/dlkd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py  # noqa: E501
#
# Layer. The paper uses the classifier's penultimate embedding; for
# segmentation mmkd takes its counterpart, the last backbone stage
# (backbone.layer4: 2048 teacher / 512 student channels, 64x64), pooled per
# image (GlobalAvgPool on both sides): one embedding per image, the
# correlation over the 16 images of the global batch (gathered).
#
# Weights: the authors' ImageNet ratio, align : corr = 10 : 20, scaled by
# mmkd's rule for the VOC configs (untuned): the terms start at about the
# initial task loss, decode.loss_ce ~ ln 21 = 3.04. A fresh projector gives
# cosines near 0, so L_align = 2 - 2 cos starts at ~2 (the correlation
# term, a KL between softmaxes of cosines at tau = 0.5, starts far smaller):
# align_weight = 3.04 / 2 = 1.52, corr_weight = 3.04. Tune both together
# on a log scale (x1/3, x3, x10), keeping the ratio, with distill.* within
# an order of magnitude of decode.loss_ce; dict(type='GradRatioHook',
# interval=50) in custom_hooks logs their gradient-norm ratio to the task's.
_base_ = [
    '../baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
ce_init = 3.04  # ln(21): cross-entropy of a uniform 21-class prediction
align_weight = ce_init / 2.0  # L_align starts at ~2 (see the header)
dlkd_layers = dict(student='backbone.layer4', teacher='backbone.layer4')
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
