# CCS, PSPNet R101-D8 (mmseg zoo, 78.47 mIoU) -> PSPNet R18-D8 on Pascal
# VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4): the recipe
# of configs/baselines/pspnet_r18-d8_4xb4-40k_voc12aug-512x512.py plus
# w * (L_intra + L_inter). Layer, grid and weight rule as in
# ./ccs_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py (see its
# header): the PSP head's bottleneck output (conv + BN + ReLU after the
# pyramid pooling, the classifier's input before Dropout2d; 512 teacher
# channels, the student's 128 through a ConvBNConnector), 64x64. Untuned.
#   python tools/train.py configs/ccs/ccs_pspnet-r101_pspnet-r18_voc12aug-512x512_40k.py  # noqa: E501
_base_ = [
    '../baselines/pspnet_r18-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_pspnet_r101-d8_voc12aug.py',
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
