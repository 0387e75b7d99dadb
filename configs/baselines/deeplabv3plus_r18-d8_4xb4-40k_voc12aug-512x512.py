# Student-only baseline: DeepLabV3+ ResNetV1c-18 D8 (ImageNet-pretrained
# backbone), trained with cross-entropy only on Pascal VOC 2012 aug, 512x512,
# 40k iterations, batch 16 (4 GPUs x 4). The student of the ICKD paper's VOC
# table (its baseline: 72.07 mIoU, at output stride 16 and the authors'
# unreleased schedule). This is the number every distillation gain is
# measured against: the distillation configs with this student and schedule
# are built on it and share its data pipeline, schedule and student model
# exactly (tests/test_configs.py checks it). mmseg has no VOC model for this
# student; mmkd publishes its own baseline.
#   python tools/train.py \
#       configs/baselines/deeplabv3plus_r18-d8_4xb4-40k_voc12aug-512x512.py
_base_ = [
    '../_base_/models/deeplabv3plus_r18-d8.py',
    '../_base_/datasets/pascal_voc12_aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_40k.py'
]
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
