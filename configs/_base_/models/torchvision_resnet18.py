# torchvision ResNet18 as an mmengine model (TorchvisionClassifier): module
# names are torchvision's (conv1, layer1..layer4, avgpool, fc).
# weights='IMAGENET1K_V1': torchvision's weights, 69.758 top-1 / 89.078
# top-5 on ImageNet val, loaded (weights-only) when training starts;
# set model.weights=None to start from random weights.
model = dict(
    type='TorchvisionClassifier',
    model_name='resnet18',
    num_classes=1000,
    weights='IMAGENET1K_V1',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
