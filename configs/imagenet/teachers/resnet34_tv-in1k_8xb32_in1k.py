# torchvision ResNet34, IMAGENET1K_V1 weights: 73.314 top-1 / 91.420 top-5
# on ImageNet val (torchvision's published numbers; the ICKD-C teacher).
# Evaluate the published weights (224 center crop of the 256 short side):
#   python tools/test.py \
#       configs/imagenet/teachers/resnet34_tv-in1k_8xb32_in1k.py \
#       torchvision://resnet34.imagenet1k_v1
# Training this config fine-tunes from those weights with torchvision's
# recipe (SGD 0.1, 90 epochs, batch 256); from scratch: model.weights=None.
_base_ = [
    '../../_base_/models/torchvision_resnet34.py',
    '../../_base_/datasets/imagenet_bs32.py',
    '../../_base_/schedules/imagenet_bs256_sgd_90e.py',
    '../_base_/default_runtime.py',
]
