# Student alone, the number ICKD-C and KD are measured against: torchvision
# ResNet18 started from its IMAGENET1K_V1 weights (69.758 top-1 as
# published) and trained with exactly the distillation recipe (AdamW 2e-4,
# 100 epochs, batch 256 = 8 GPUs x 32), without a teacher. The distillation
# configs inherit this file and only add the teacher and the loss terms.
#   tools/dist_train.sh \
#       configs/imagenet/baselines/resnet18_tv-in1k_adamw-100e_8xb32_in1k.py 8
_base_ = [
    '../../_base_/models/torchvision_resnet18.py',
    '../../_base_/datasets/imagenet_bs32.py',
    '../../_base_/schedules/imagenet_bs256_adamw_100e.py',
    '../_base_/default_runtime.py',
]
