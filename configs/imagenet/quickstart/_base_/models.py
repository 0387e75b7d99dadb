# Quickstart networks: torchvision ResNets narrowed by ScalableResNet (same
# module names: conv1, layer1..layer4, avgpool, fc), random init.
#   teacher: BasicBlock [2, 2, 2, 2], width 32 (ResNet18 at half width)
#   student: BasicBlock [1, 1, 1, 1], width 16
_base_ = ['./data.py']
teacher_model = dict(
    type='TorchvisionClassifier',
    arch=dict(block='BasicBlock', layers=[2, 2, 2, 2], width=32),
    num_classes=_base_.num_classes,
    data_preprocessor=_base_.data_preprocessor)
student_model = dict(
    type='TorchvisionClassifier',
    arch=dict(block='BasicBlock', layers=[1, 1, 1, 1], width=16),
    num_classes=_base_.num_classes,
    data_preprocessor=_base_.data_preprocessor)
