# The quickstart's data: mmkd's synthetic VOC-format dataset
# (../../_base_/datasets/synthetic_voc.py: 600 train / 150 val images of
# 128x128, background + 9 shapes) with a lighter training pipeline.
#
# The quickstart trains every model from scratch for a few minutes of CPU,
# far from convergence, where heavy augmentation only slows learning down:
# the scale range is narrowed from mmseg's VOC recipe (0.5-2.0) to
# 0.75-1.5, and PhotoMetricDistortion is left out (the generator already
# draws every colour, texture, illumination gradient and noise level at
# random, so colour jitter adds nothing the images lack).
_base_ = ['../../_base_/datasets/synthetic_voc.py']
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=(128, 128),
        ratio_range=(0.75, 1.5),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(96, 96), cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
