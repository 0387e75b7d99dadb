# Student-only baseline: DeepLabV3 ResNetV1c-18 D8 (ImageNet-pretrained
# backbone), trained with cross-entropy only on Pascal VOC 2012 aug, 512x512,
# 20k iterations, batch 16 (4 GPUs x 4). This is the number every distillation
# gain is measured against: the distillation configs with this student and
# schedule are built on it and share its data pipeline, schedule and student
# model exactly (tests/test_configs.py checks it). mmseg has no VOC model for
# this student; mmkd publishes its own baseline.
#   python tools/train.py \
#       configs/baselines/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py
_base_ = [
    '../_base_/models/deeplabv3_r18-d8.py',
    '../_base_/datasets/pascal_voc12_aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_20k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
