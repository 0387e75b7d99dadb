# mmkd's synthetic dataset in Pascal VOC layout (see
# mmkd/datasets/synthetic_voc.py), loaded with mmseg's own BaseSegDataset so
# that configs derived from this one (and students exported from them) load
# in plain mmseg, without mmkd.
#
# Generate it first (the quickstart does this for you, cached):
#   python tools/generate_synthetic_voc.py --out data/synthetic_voc
# which writes data/synthetic_voc/VOC2012/{JPEGImages,SegmentationClass,
# ImageSets/Segmentation/{train,val}.txt}: 600 train / 150 val images of
# 128x128, 10 classes (background + 9 shapes), label 255 = void.
#
# The pipelines follow mmseg's VOC recipe (configs/_base_/datasets/
# pascal_voc12.py) scaled to 128x128 images: random rescale (0.5-2.0),
# random crop with cat_max_ratio, flip and photometric distortion for
# training; whole images for validation.
dataset_type = 'BaseSegDataset'
data_root = 'data/synthetic_voc/VOC2012'
# Written out (not imported from mmkd) so that this config, and configs
# dumped from it, load without mmkd: SYNTHETIC_METAINFO in
# mmkd.datasets.synthetic_voc (tests/test_quickstart.py checks they agree).
metainfo = dict(
    classes=('background', 'disc', 'ring', 'triangle', 'rectangle', 'cross',
             'star', 'crescent', 'bar', 'arrow'),
    palette=[[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
             [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128],
             [64, 0, 0], [192, 0, 0]])
img_scale = (128, 128)
crop_size = (96, 96)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(
        type='RandomResize',
        scale=img_scale,
        ratio_range=(0.5, 2.0),
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=img_scale, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    # The images are tiny: loading them in the main process is cheaper on
    # a 2-core CPU than feeding worker processes.
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=metainfo,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/train.txt',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=metainfo,
        data_prefix=dict(
            img_path='JPEGImages', seg_map_path='SegmentationClass'),
        ann_file='ImageSets/Segmentation/val.txt',
        pipeline=test_pipeline))
test_dataloader = val_dataloader

val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
