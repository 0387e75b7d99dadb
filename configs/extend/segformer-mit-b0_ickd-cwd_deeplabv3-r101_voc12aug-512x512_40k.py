# SegFormer MiT-B0 student distilled from the DeepLabV3-R101 teacher on
# Pascal VOC 2012 aug: a backbone mmkd ships no distillation config for.
# docs/extending.md derives every line below from the output of
#   python tools/inspect_layers.py THIS_CONFIG --pairs ickd   (and cwd)
# ICKD on the last decode feature (student decode_head.fusion_conv, 256 ch at
# 128x128; teacher decode_head.bottleneck, 512 ch at 64x64: resize, then a
# connector) and CWD on the logits (21 ch, 128x128 vs 64x64: resize).
_base_ = [
    '../_base_/models/segformer_mit-b0.py',
    '../_base_/datasets/pascal_voc12_aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py'
]
data_preprocessor = dict(_base_.data_preprocessor, size=(512, 512))
student = _base_.model  # mmseg's SegFormer, ImageNet MiT-B0 backbone
student.update(data_preprocessor=data_preprocessor)
student['decode_head'].update(num_classes=21)
model = dict(
    _delete_=True, type='SegDistiller', data_preprocessor=data_preprocessor,
    student=student, teacher=_base_.teacher_model,
    teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(name='loss_ickd', student='decode_head.fusion_conv',
             teacher='decode_head.bottleneck',
             student_transforms=[dict(type='Resize'),
                                 dict(type='ConvBNConnector')],
             # ickd_alpha / p^2 = 10 / (16 * 16)^2 (configs/ickd_voc.py)
             loss=dict(type='ICKDLoss', grid_size=4, loss_weight=1.53e-4)),
        dict(name='loss_cwd', student='decode_head.conv_seg',
             teacher='decode_head.conv_seg',
             student_transforms=[dict(type='Resize')],
             loss=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=5.0))
    ])
# SegFormer's own optimiser (mmseg): AdamW, head lr x10, no decay on norms.
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=6e-5, weight_decay=0.01),
    paramwise_cfg=dict(custom_keys={
        'pos_block': dict(decay_mult=0.), 'norm': dict(decay_mult=0.),
        'head': dict(lr_mult=10.)}))
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
