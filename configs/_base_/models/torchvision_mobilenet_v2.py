# torchvision MobileNetV2 as an mmengine model (TorchvisionClassifier):
# module names are torchvision's (features.0 ... features.18, classifier).
# features.1-17 are the inverted residual blocks, which end in a linear
# 1x1 projection (no ReLU); features.18 is the last 1x1 conv to 1280 ch.
# weights='IMAGENET1K_V1': torchvision's weights, 71.878 top-1 / 90.286
# top-5 on ImageNet val, loaded (weights-only) when training starts; set
# model.weights=None to start from random weights.
model = dict(
    type='TorchvisionClassifier',
    model_name='mobilenet_v2',
    num_classes=1000,
    weights='IMAGENET1K_V1',
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
