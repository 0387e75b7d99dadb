# IRG (Liu et al., CVPR 2019; docs/methods.md "IRG") on ImageNet: torchvision
# ResNet34 (73.31) -> ResNet18 from its ImageNet weights (69.76), the
# ICKD-C recipe of ../baselines/ (AdamW 2e-4, 100 epochs, batch 256 = 8
# GPUs x 32), CE + vertex + edge + transformation.
#   tools/dist_train.sh configs/imagenet/irg/irg_resnet34_resnet18_adamw-100e_8xb32_in1k.py 8
# Layers, as the paper: vertex on the logits (fc); edge with the student's
# layer3 and layer4 each matched to the teacher's last stage (layer4),
# pooled per image, summed over the two as the paper sums its layers;
# transformation from the first to the last block of stage 3 on each side
# (ResNet18 layer3.0 -> layer3.1, ResNet34 layer3.0 -> layer3.5; 256 ch).
# Graphs over the global batch of 256.
# Weights: the authors' 0.005 per term with their Caffe reduction at batch
# 64, converted to mmkd's 'mean' reduction at that batch: edge 0.005 * 64/2
# = 0.16, vertex and transformation 0.005 / 2 (docs/methods.md "IRG").
_base_ = [
    '../baselines/resnet18_tv-in1k_adamw-100e_8xb32_in1k.py',
    '../_base_/teacher_resnet34_tv-in1k.py',
]
irg_caffe_weight, irg_caffe_batch = 0.005, 64  # the authors' setting
pool = dict(student_transforms=[dict(type='GlobalAvgPool')],
            teacher_transforms=[dict(type='GlobalAvgPool')])
model = dict(
    _delete_=True, type='ClsDistiller', student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    data_preprocessor=_base_.data_preprocessor,
    distill=[
        dict(name='loss_irg_vertex', student='fc', teacher='fc',
             loss=dict(type='IRGVertexLoss',
                       loss_weight=irg_caffe_weight / 2)),
        dict(pool, name='loss_irg_edge', student=['layer3', 'layer4'],
             teacher='layer4',
             loss=dict(type='IRGEdgeLoss',
                       loss_weight=irg_caffe_weight * irg_caffe_batch / 2)),
        dict(pool, name='loss_irg_transformation',
             student=['layer3.0', 'layer3.1'],
             teacher=['layer3.0', 'layer3.5'],
             loss=dict(type='IRGTransformationLoss',
                       loss_weight=irg_caffe_weight / 2)),
    ])
find_unused_parameters = False
