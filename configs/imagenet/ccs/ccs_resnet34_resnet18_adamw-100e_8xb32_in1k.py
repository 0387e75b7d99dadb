# CCS (Li et al., KSEM 2021; docs/methods.md "CCS") on ImageNet: torchvision
# ResNet34 (73.31) -> ResNet18 from its ImageNet weights (69.76), the
# ICKD-C recipe of ../baselines/ (AdamW 2e-4, 100 epochs, batch 256 = 8
# GPUs x 32), CE + w * (L_intra + L_inter), no KD term (add ../kd/'s item
# to combine them).
#   tools/dist_train.sh configs/imagenet/ccs/ccs_resnet34_resnet18_adamw-100e_8xb32_in1k.py 8
# Layer (mmkd's choice, as ICKD-C's ImageNet recipe): the last feature map
# before pooling (layer4, 7x7x512 on both sides), the student's through a
# 1x1 conv + BN embed (a
# correlation matrix compares channel pairs; the two networks' channels
# need not correspond), whole map (1x1 grid). The inter term runs over the
# global batch of 256.
# Weight: mmkd's rule (untuned): the term starts at about the student's
# initial CE, ~1.3 for a pretrained 70%-top-1 ResNet18 (an estimate, not
# measured); CCS entries are cosines, ~0.2 per term at the start (see
# configs/ccs/ccs_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py):
# loss_weight = 1.3 / 0.4. Tune on a log scale, watching distill.loss_ccs.
_base_ = [
    '../baselines/resnet18_tv-in1k_adamw-100e_8xb32_in1k.py',
    '../_base_/teacher_resnet34_tv-in1k.py',
]
ce_init, ccs_init = 1.3, 0.4
model = dict(
    _delete_=True, type='ClsDistiller', student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    data_preprocessor=_base_.data_preprocessor,
    distill=[
        dict(name='loss_ccs', student='layer4', teacher='layer4',
             student_transforms=[dict(type='ConvBNConnector')],
             loss=dict(type='CCSLoss', grid_size=(1, 1), intra_weight=1.0,
                       inter_weight=1.0, loss_weight=ce_init / ccs_init)),
    ])
find_unused_parameters = False
