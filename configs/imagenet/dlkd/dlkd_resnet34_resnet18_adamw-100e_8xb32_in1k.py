# DLKD (Ding et al., TNNLS 2022; docs/methods.md "DLKD") on ImageNet:
# torchvision ResNet34 (73.31) -> ResNet18 from its ImageNet weights
# (69.76), the ICKD-C recipe of ../baselines/ (AdamW 2e-4, 100 epochs,
# batch 256 = 8 GPUs x 32), CE + alignment + correlation, no KD term.
#   tools/dist_train.sh configs/imagenet/dlkd/dlkd_resnet34_resnet18_adamw-100e_8xb32_in1k.py 8
# Layer, as the paper: the penultimate embedding, the avgpool output
# (512-d on both sides); each term has its own MLPProjector (Linear-BN-
# ReLU-Linear 512 -> 512), as the paper's two projectors: two distill items.
# The correlation runs over the global batch of 256 images (the authors'
# code rotates each image 4 times to form its rows; mmkd does not).
# Weights: the authors' ImageNet setting, align 10, corr 20, tau 0.5.
_base_ = [
    '../baselines/resnet18_tv-in1k_adamw-100e_8xb32_in1k.py',
    '../_base_/teacher_resnet34_tv-in1k.py',
]
dlkd_item = dict(
    student='avgpool', teacher='avgpool',
    student_transforms=[dict(type='GlobalAvgPool'), dict(type='MLPProjector')],
    teacher_transforms=[dict(type='GlobalAvgPool')])
model = dict(
    _delete_=True, type='ClsDistiller', student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    data_preprocessor=_base_.data_preprocessor,
    distill=[
        dict(dlkd_item, name='loss_dlkd_align',
             loss=dict(type='DLKDLoss', align_weight=10.0, corr_weight=0.0)),
        dict(dlkd_item, name='loss_dlkd_corr',
             loss=dict(type='DLKDLoss', align_weight=0.0, corr_weight=20.0,
                       tau=0.5)),
    ])
find_unused_parameters = False
