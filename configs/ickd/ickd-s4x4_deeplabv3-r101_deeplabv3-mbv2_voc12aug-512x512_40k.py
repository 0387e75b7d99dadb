# ICKD-S 4x4, DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3
# MobileNetV2-D8 on Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16
# (4 GPUs x 4): the recipe of
# configs/baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py
# plus alpha * L_ickd. Layer and alpha as in configs/ickd_voc.py (see "Why
# this alpha and layer" there): the output of the ASPP head's bottleneck,
# i.e. the classifier's input before the head's Dropout2d. mmseg's
# MobileNetV2 DeepLabV3 keeps 512 head channels, so both maps have 512
# channels; the ConvBNConnector (512 -> 512) is kept anyway, as methods.md's
# default adapter: the student's map has to match the teacher's only up to
# a learned 1x1 map, as with the R18 students.
#   python tools/train.py \
#       configs/ickd/ickd-s4x4_deeplabv3-r101_deeplabv3-mbv2_voc12aug-512x512_40k.py
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]

# Per-pixel weight, as in configs/ickd_voc.py (see "Why this alpha and
# layer" there); untuned for this pair. The distilled map is 64x64 (512x512
# crop, output stride 8): a 4x4 grid gives cells of p = 256 pixels and a
# loss weight of ickd_alpha / p^2.
ickd_alpha = 10.0
ickd_feature_size = (64, 64)
ickd_cell_pixels = (ickd_feature_size[0] // 4) * (ickd_feature_size[1] // 4)

model = dict(
    _delete_=True,
    type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor,
    student=_base_.model,
    teacher=_base_.teacher_model,
    # mmseg zoo DeepLabV3 R101-D8 VOC12aug 20k (78.70 mIoU).
    teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(
            name='loss_ickd',
            student=dict(
                module='decode_head.bottleneck', source='output'),
            teacher=dict(
                module='decode_head.bottleneck', source='output'),
            student_transforms=[
                dict(type='ConvBNConnector'),
                dict(type='Resize', mode='bilinear')
            ],
            loss=dict(
                type='ICKDLoss',
                grid_size=(4, 4),
                normalize=None,
                loss_weight=ickd_alpha / ickd_cell_pixels**2)),
    ])
find_unused_parameters = False
# Evaluate the frozen teacher on VOC val once before training (a check that
# the zoo checkpoint loaded: expect its published mIoU) and log the
# student's mIoU as a fraction of the teacher's after every validation.
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
