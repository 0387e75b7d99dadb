# KD baseline (Hinton et al. 2015) for ICKD-C's ImageNet table: torchvision
# ResNet34 (73.31) -> ResNet18 from ImageNet weights, AdamW 2e-4, 100
# epochs, batch 256. Loss = CE + 0.5 * KD(tau=1) on the logits (fc output):
# ICKD-C's KD term alone, so ickd/ differs from this config by its ICC term
# only. (CRD's published KD row, 70.68, used another recipe.)
#   tools/dist_train.sh \
#       configs/imagenet/kd/kd_resnet34_resnet18_adamw-100e_8xb32_in1k.py 8
_base_ = [
    '../baselines/resnet18_tv-in1k_adamw-100e_8xb32_in1k.py',
    '../_base_/teacher_resnet34_tv-in1k.py',
]
model = dict(
    _delete_=True,
    type='ClsDistiller',
    student=_base_.model,
    teacher=_base_.teacher_model,
    teacher_checkpoint=_base_.teacher_checkpoint,
    data_preprocessor=_base_.data_preprocessor,
    distill=[
        dict(name='loss_kd', student='fc', teacher='fc',
             loss=dict(type='ClsKDLoss', tau=1.0, loss_weight=0.5)),
    ])
# The frozen teacher gets no gradients; every student parameter does.
find_unused_parameters = False
