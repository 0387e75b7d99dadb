# FitNets hint, DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3
# MobileNetV2-D8 on Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16
# (4 GPUs x 4): the recipe of
# configs/baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py
# plus the hint term. Hint (teacher backbone.layer2, the middle of R101's 4
# stages, 512 ch) and weight rule as in
# ./fitnets_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py (see its
# header). The guided layer is MobileNetV2's middle stage, backbone.layer4
# (the 4th of 7; 64 ch, 64x64, at the hint's stride 8), lifted to 512
# channels by the ConvBNConnector regressor. Untuned.
#   python tools/train.py configs/fitnets/fitnets_deeplabv3-r101_deeplabv3-mbv2_voc12aug-512x512_40k.py  # noqa: E501
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
ce_init = 3.04  # ln(21): cross-entropy of a uniform 21-class prediction
fitnets_init = 2.0  # estimated initial MSE (R18 config's header)
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[dict(
        name='loss_fitnets', student='backbone.layer4',
        teacher='backbone.layer2',
        student_transforms=[dict(type='ConvBNConnector'),
                            dict(type='Resize', mode='bilinear')],
        loss=dict(type='FitNetsLoss', reduction='mean',
                  loss_weight=ce_init / fitnets_init))])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
