# Teacher: DeepLabV3+ ResNetV1c-101 D8 on Pascal VOC 2012 aug, 512x512, 20k
# iterations, batch 16 (4 GPUs x 4): mmseg 1.2.2's
# `configs/deeplabv3plus/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py`
# (Apache-2.0, Copyright (c) OpenMMLab) on mmkd's vendored bases. The teacher
# of the ICKD paper's own VOC pair (configs/ickd/*_deeplabv3plus-*).
#
# mmkd does not retrain it: the distillation configs load the mmseg model-zoo
# checkpoint below (mIoU 77.22 on VOC12 aug val, single scale; 78.59 with
# multi-scale + flip; mmseg 1.2.2 configs/deeplabv3plus/metafile.yaml). The
# ICKD paper's teacher (its own training, output stride 16) scored 77.89.
# mmseg also has a 40k-iteration VOC model (78.62 mIoU,
# .../deeplabv3plus_r101-d8_512x512_40k_voc12aug/deeplabv3plus_r101-d8_512x512_40k_voc12aug_20200613_205333-faf03387.pth);
# mmkd takes the 20k one, the schedule of its other two zoo teachers and
# the closer to the paper's teacher. To check the teacher (downloads it):
#   python tools/test.py \
#       configs/teachers/deeplabv3plus_r101-d8_4xb4-20k_voc12aug-512x512.py \
#       https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/deeplabv3plus_r101-d8_512x512_20k_voc12aug/deeplabv3plus_r101-d8_512x512_20k_voc12aug_20200617_102345-c7ff3d56.pth
# To train it yourself: python tools/train.py <this config>.
_base_ = [
    '../_base_/models/deeplabv3plus_r50-d8.py',
    '../_base_/datasets/pascal_voc12_aug.py', '../_base_/default_runtime.py',
    '../_base_/schedules/schedule_20k.py'
]
# mmseg model zoo, DeepLabV3+ R101-D8 VOC12aug 512x512 20k: mIoU 77.22.
teacher_checkpoint = 'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/deeplabv3plus_r101-d8_512x512_20k_voc12aug/deeplabv3plus_r101-d8_512x512_20k_voc12aug_20200617_102345-c7ff3d56.pth'  # noqa: E501
crop_size = (512, 512)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    pretrained='open-mmlab://resnet101_v1c',
    backbone=dict(depth=101),
    decode_head=dict(num_classes=21),
    auxiliary_head=dict(num_classes=21))
