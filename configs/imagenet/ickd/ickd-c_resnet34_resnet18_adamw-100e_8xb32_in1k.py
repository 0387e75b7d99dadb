# ICKD-C (Liu et al., ICCV 2021) on ImageNet, the authors' recipe: teacher
# torchvision ResNet34 (73.31), student ResNet18 from its ImageNet weights
# (69.76), AdamW 2e-4, 100 epochs, batch 256 = 8 GPUs x 32. Published:
# 72.19 top-1 (paper) / 72.16 (authors' README).
# Loss = CE + 0.5 * KD(tau=1) + 500 * L_icc, where L_icc is the authors'
# code form on layer4 (7x7x512 on both sides): the student's map through
# a 1x1 conv + BN embed, one ICC (Gram) matrix per image (1x1 grid), rows
# L2-normalised, squared error divided by C * B^2 (their ImageNet copy).
#   tools/dist_train.sh \
#     configs/imagenet/ickd/ickd-c_resnet34_resnet18_adamw-100e_8xb32_in1k.py 8
_base_ = ['../kd/kd_resnet34_resnet18_adamw-100e_8xb32_in1k.py']
model = dict(distill=[
    dict(name='loss_kd', student='fc', teacher='fc',
         loss=dict(type='ClsKDLoss', tau=1.0, loss_weight=0.5)),
    dict(name='loss_icc', student='layer4', teacher='layer4',
         student_transforms=[dict(type='ConvBNConnector')],
         loss=dict(type='ICKDLoss', grid_size=(1, 1), normalize='row',
                   row_denominator='batch_squared', loss_weight=500.0)),
])
