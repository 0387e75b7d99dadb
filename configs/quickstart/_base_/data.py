# The quickstart's data: mmkd's synthetic VOC-format dataset at 64x64 with
# the 'large' object layout (1-4 objects, radius 14-42% of the side; see
# mmkd/datasets/synthetic_voc.py: LAYOUTS), 800 train / 200 val images,
# background + the first 6 shapes (num_classes=7), and a light training
# pipeline.
#
# Small images keep every run within CPU minutes; fewer, larger objects keep
# them visible at output stride 8. The scale range is narrowed from mmseg's
# VOC recipe (0.5-2.0) to 0.75-1.5, and PhotoMetricDistortion is left out
# (the generator already draws every colour, texture, illumination gradient
# and noise level at random).
_base_ = ['../../_base_/datasets/synthetic_voc.py']
data_root = 'data/synthetic_voc/VOC2012'
metainfo = dict(
    classes=('background', 'disc', 'ring', 'triangle', 'rectangle', 'cross',
             'star'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
             [0, 0, 128], [128, 0, 128], [0, 128, 128]])
img_scale = (64, 64)
crop_size = (64, 64)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8, dataset=dict(metainfo=metainfo, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16, dataset=dict(metainfo=metainfo, pipeline=test_pipeline))
test_dataloader = val_dataloader
