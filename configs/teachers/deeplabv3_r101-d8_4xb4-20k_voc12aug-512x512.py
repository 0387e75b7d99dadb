# Teacher: DeepLabV3 ResNetV1c-101 D8 on Pascal VOC 2012 aug, 512x512, 20k
# iterations, batch 16 (4 GPUs x 4): mmseg 1.2.2's
# `configs/deeplabv3/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py`
# (Apache-2.0, Copyright (c) OpenMMLab) on mmkd's vendored bases.
#
# mmkd does not retrain it: the distillation configs load the mmseg model-zoo
# checkpoint below (mIoU 78.70 on VOC12 aug val, single scale). To check the
# teacher (downloads the checkpoint):
#   python tools/test.py \
#       configs/teachers/deeplabv3_r101-d8_4xb4-20k_voc12aug-512x512.py \
#       https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x512_20k_voc12aug/deeplabv3_r101-d8_512x512_20k_voc12aug_20200617_010932-8d13832f.pth
# To train it yourself: python tools/train.py <this config>.
_base_ = [
    '../_base_/models/deeplabv3_r50-d8.py',
    '../_base_/datasets/pascal_voc12_aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_20k.py'
]
# mmseg model zoo, DeepLabV3 R101-D8 VOC12aug 512x512 20k: mIoU 78.70.
teacher_checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/deeplabv3_r101-d8_512x512_20k_voc12aug/deeplabv3_r101-d8_512x512_20k_voc12aug_20200617_010932-8d13832f.pth'  # noqa: E501
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet101_v1c',
    backbone=dict(depth=101),
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
