# CCS, DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3 MobileNetV2-D8
# on Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4):
# the recipe of
# configs/baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py
# plus w * (L_intra + L_inter). Layer, grid and weight rule as in
# ./ccs_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py (see its
# header): decode_head.bottleneck, 512 channels on both sides (mmseg's
# MobileNetV2 DeepLabV3 keeps a 512-channel head); the ConvBNConnector
# (512 -> 512) is kept, since a correlation matrix compares channel pairs
# and the two networks' channels need not correspond. Untuned.
#   python tools/train.py configs/ccs/ccs_deeplabv3-r101_deeplabv3-mbv2_voc12aug-512x512_40k.py  # noqa: E501
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
ce_init = 3.04  # ln(21): cross-entropy of a uniform 21-class prediction
ccs_init = 0.4  # estimated initial L_intra + L_inter (R18 config's header)
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[dict(
        name='loss_ccs',
        student='decode_head.bottleneck', teacher='decode_head.bottleneck',
        student_transforms=[dict(type='ConvBNConnector'),
                            dict(type='Resize', mode='bilinear')],
        loss=dict(type='CCSLoss', grid_size=(1, 1), intra_weight=1.0,
                  inter_weight=1.0, loss_weight=ce_init / ccs_init))])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
