# The ImageNet teacher of the ICKD-C table: torchvision ResNet34 with its
# IMAGENET1K_V1 weights (73.314 top-1 / 91.420 top-5, torchvision's
# numbers; the paper's 73.31). The distiller loads them, weights-only,
# through mmengine's torchvision:// scheme (download.pytorch.org, cached in
# torch's hub dir); offline, pass a local copy:
#   --cfg-options model.teacher_checkpoint=/path/to/resnet34-b627a593.pth
teacher_model = dict(
    type='TorchvisionClassifier',
    model_name='resnet34',
    num_classes=1000,
    data_preprocessor=dict(
        type='mmpretrain.ClsDataPreprocessor',
        num_classes=1000,
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True))
teacher_checkpoint = 'torchvision://resnet34.imagenet1k_v1'
