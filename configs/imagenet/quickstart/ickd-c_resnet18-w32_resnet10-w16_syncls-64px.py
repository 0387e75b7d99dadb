# Quickstart ICKD-C: the KD config plus the ICC term of the ImageNet recipe
# on layer4 (student 128 -> teacher 256 channels through a 1x1 conv + BN
# embed; 2x2 maps at 64 px input): one Gram per image, rows L2-normalised,
# divided by C * B^2 (the authors' ImageNet code form).
_base_ = ['./kd_resnet18-w32_resnet10-w16_syncls-64px.py']
model = dict(distill=[
    dict(name='loss_kd', student='fc', teacher='fc',
         loss=dict(type='ClsKDLoss', tau=1.0, loss_weight=0.5)),
    dict(name='loss_icc', student='layer4', teacher='layer4',
         student_transforms=[dict(type='ConvBNConnector')],
         loss=dict(type='ICKDLoss', grid_size=(1, 1), normalize='row',
                   row_denominator='batch_squared', loss_weight=500.0)),
])
