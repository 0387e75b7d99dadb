# The ImageNet teacher of the MGD config: torchvision ResNet50 with its
# IMAGENET1K_V1 weights (76.130 top-1 / 92.862 top-5, torchvision's numbers;
# MGD's teacher: 76.15). The distiller loads them, weights-only, through
# mmengine's torchvision:// scheme; offline, pass a local copy:
#   --cfg-options model.teacher_checkpoint=/path/to/resnet50-0676ba61.pth
teacher_model = dict(
    type='TorchvisionClassifier',
    model_name='resnet50',
    num_classes=1000,
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
teacher_checkpoint = 'torchvision://resnet50.imagenet1k_v1'
