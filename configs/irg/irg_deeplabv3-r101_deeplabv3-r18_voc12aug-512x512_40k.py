# IRG (Liu et al., CVPR 2019; docs/methods.md "IRG"), DeepLabV3 R101-D8
# (mmseg zoo, 78.70 mIoU) -> DeepLabV3 R18-D8 on Pascal VOC 2012 aug,
# 512x512, 40k iterations, batch 16 (4 GPUs x 4): the recipe of
# configs/baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py plus the
# three IRG terms as three distill items.
#   python tools/train.py configs/irg/irg_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py  # noqa: E501
#
# Layers, as the paper says: the vertex term on the logits (the class logits
# decode_head.conv_seg, pooled over each image: one 21-vector per image);
# the edge term with several student layers each matched to the teacher's
# last (student backbone.layer3 and layer4 vs teacher backbone.layer4,
# pooled per image; the edge loss sums the two, as the paper sums its
# layers); the transformation term between the first and last block of one
# stage on each side (equal channels): backbone stage 3, the stage the
# auxiliary head reads (R18 layer3.0 -> layer3.1, R101 layer3.0 ->
# layer3.22, 256 / 1024 channels). The graphs run over the global batch of
# 16 images (gathered).
#
# Weights: the authors' only published setting, 0.005 per term with their
# Caffe reduction at batch 64, converted to mmkd's 'mean' reduction at that
# batch (so the strength per sample pair does not follow our batch size):
# Caffe edge = B/2 x mean -> 0.005 * 32 = 0.16; transformation and pooled
# vertex = 1/2 x mean -> 0.0025. Untuned for segmentation: the vertex term
# on unnormalised logits is the one to watch (distill.loss_irg_vertex vs
# decode.loss_ce); tune the three by one common factor on a log scale
# (x1/3, x3, x10), or log the gradient-norm ratio with
# dict(type='GradRatioHook', interval=50) in custom_hooks.
_base_ = [
    '../baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py',
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
             student=['backbone.layer3', 'backbone.layer4'],
             teacher='backbone.layer4',
             loss=dict(type='IRGEdgeLoss',
                       loss_weight=irg_caffe_weight * irg_caffe_batch / 2)),
        dict(pool, name='loss_irg_transformation',
             student=['backbone.layer3.0', 'backbone.layer3.1'],
             teacher=['backbone.layer3.0', 'backbone.layer3.22'],
             loss=dict(type='IRGTransformationLoss',
                       loss_weight=irg_caffe_weight / 2)),
    ])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
