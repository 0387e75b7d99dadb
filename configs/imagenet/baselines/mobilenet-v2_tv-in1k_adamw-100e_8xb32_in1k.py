# Student alone, the number MGD-AMP ResNet50 -> MobileNetV2 is measured
# against: torchvision MobileNetV2 started from its IMAGENET1K_V1 weights
# (71.878 top-1 as published) and trained with exactly the distillation
# recipe (AdamW 2e-4, 100 epochs, batch 256 = 8 GPUs x 32), without a
# teacher. The MGD config inherits this file and only adds the teacher, the
# loss and the matching hook.
#   tools/dist_train.sh configs/imagenet/baselines/mobilenet-v2_tv-in1k_adamw-100e_8xb32_in1k.py 8
_base_ = [
    '../../_base_/models/torchvision_mobilenet_v2.py',
    '../../_base_/datasets/imagenet_bs32.py',
    '../../_base_/schedules/imagenet_bs256_adamw_100e.py',
    '../_base_/default_runtime.py',
]
