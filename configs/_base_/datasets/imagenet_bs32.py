# Adapted from mmpretrain 1.2.0 `configs/_base_/datasets/imagenet_bs32.py`
# (Apache-2.0, Copyright (c) OpenMMLab). Changed: mmpretrain types are
# scope-qualified ('mmpretrain.X') so that they resolve under mmkd's
# default_scope; images are decoded and resized with Pillow, bilinear, as
# torchvision's ImageNet weights were evaluated (torchvision's published
# top-1 is what these configs are checked against).
#
# ImageNet-1k, data/imagenet in either layout (see docs/imagenet.md):
#   train/<wnid>/*.JPEG, val/<wnid>/*.JPEG               (folders)
#   train/..., val/*.JPEG, meta/{train,val}.txt          (annotation files)
# 32 images per GPU: 8 GPUs x 32 = 256, the batch the schedules assume.
dataset_type = 'mmpretrain.ImageNet'
data_root = 'data/imagenet'
data_preprocessor = dict(
    type='mmpretrain.ClsDataPreprocessor',
    num_classes=1000,
    # RGB mean and std of ImageNet, in 0-255 (torchvision's weights)
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    # LoadImageFromFile gives BGR
    to_rgb=True,
)

train_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='mmpretrain.RandomResizedCrop', scale=224, backend='pillow',
         interpolation='bilinear'),
    dict(type='mmpretrain.RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='mmpretrain.PackInputs'),
]
test_pipeline = [
    dict(type='mmpretrain.LoadImageFromFile', imdecode_backend='pillow'),
    dict(type='mmpretrain.ResizeEdge', scale=256, edge='short',
         backend='pillow', interpolation='bilinear'),
    dict(type='mmpretrain.CenterCrop', crop_size=224),
    dict(type='mmpretrain.PackInputs'),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=5,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='train',
        pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=5,
    persistent_workers=True,
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        split='val',
        pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False),
)
# top-1 and top-5 accuracy (%)
val_evaluator = dict(type='mmpretrain.Accuracy', topk=(1, 5))
test_dataloader = val_dataloader
test_evaluator = val_evaluator
