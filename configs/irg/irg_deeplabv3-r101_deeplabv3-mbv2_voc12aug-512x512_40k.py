# IRG, DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3 MobileNetV2-D8
# on Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4):
# the recipe of
# configs/baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py
# plus IRG's vertex, edge and transformation items. Weights and the teacher
# side as in ./irg_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py
# (see its header). MobileNetV2's counterparts of R18's layers: the edge
# term's student layers are backbone.layer5 (96 ch, the auxiliary head's
# input, as R18's layer3) and backbone.layer7 (320 ch, the ASPP head's
# input, as layer4); the transformation term runs over stage 5, first to
# last block (layer5.0 -> layer5.2, 96 channels each; stage 5's first block
# already outputs 96). Untuned.
#   python tools/train.py configs/irg/irg_deeplabv3-r101_deeplabv3-mbv2_voc12aug-512x512_40k.py  # noqa: E501
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
irg_caffe_weight, irg_caffe_batch = 0.005, 64  # the authors' setting
pool = dict(student_transforms=[dict(type='GlobalAvgPool')],
            teacher_transforms=[dict(type='GlobalAvgPool')])
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(name='loss_irg_vertex', student='decode_head.conv_seg',
             teacher='decode_head.conv_seg',
             loss=dict(type='IRGVertexLoss',
                       loss_weight=irg_caffe_weight / 2)),
        dict(pool, name='loss_irg_edge',
             student=['backbone.layer5', 'backbone.layer7'],
             teacher='backbone.layer4',
             loss=dict(type='IRGEdgeLoss',
                       loss_weight=irg_caffe_weight * irg_caffe_batch / 2)),
        dict(pool, name='loss_irg_transformation',
             student=['backbone.layer5.0', 'backbone.layer5.2'],
             teacher=['backbone.layer3.0', 'backbone.layer3.22'],
             loss=dict(type='IRGTransformationLoss',
                       loss_weight=irg_caffe_weight / 2)),
    ])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
