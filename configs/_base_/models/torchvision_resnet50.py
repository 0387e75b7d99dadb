# torchvision ResNet50 as an mmengine model (TorchvisionClassifier): module
# names are torchvision's (conv1, layer1..layer4, avgpool, fc).
# weights='IMAGENET1K_V1': torchvision's weights, 76.130 top-1 / 92.862
# top-5 on ImageNet val (MGD's ImageNet teacher scored 76.15).
model = dict(
    type='TorchvisionClassifier',
    model_name='resnet50',
    num_classes=1000,
    weights='IMAGENET1K_V1',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
