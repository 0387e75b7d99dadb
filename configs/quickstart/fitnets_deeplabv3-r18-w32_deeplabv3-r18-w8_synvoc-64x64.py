# FitNets (Romero et al., ICLR 2015) on the last backbone stage
# (backbone.layer4): MSE between the teacher's 256 channels and the
# student's 64 lifted by a ConvBNConnector (the regressor).
_base_ = ['./_base_/distill.py']

model = dict(distill=[
    dict(name='loss_fitnets',
         student=dict(module='backbone.layer4', source='output'),
         teacher=dict(module='backbone.layer4', source='output'),
         student_transforms=[dict(type='ConvBNConnector')],
         loss=dict(type='FitNetsLoss', loss_weight=1.0)),
])
