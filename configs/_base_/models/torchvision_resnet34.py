# torchvision ResNet34 as an mmengine model (TorchvisionClassifier): module
# names are torchvision's (conv1, layer1..layer4, avgpool, fc).
# weights='IMAGENET1K_V1': torchvision's weights, 73.314 top-1 / 91.420
# top-5 on ImageNet val (the teacher of ICKD-C's ImageNet table, 73.31).
model = dict(
    type='TorchvisionClassifier',
    model_name='resnet34',
    num_classes=1000,
    weights='IMAGENET1K_V1',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
