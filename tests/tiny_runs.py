"""Tiny training runs for the fault tests: generated VOC-format data, a
runtime config and a tiny distiller that train on CPU in seconds."""
import copy
import glob
import itertools
import json
import os
import os.path as osp
from typing import Dict, List, Optional

from tiny_models import tiny_deeplabv3

from mmkd.datasets import (SYNTHETIC_CLASSES, SYNTHETIC_PALETTE,
                           generate_synthetic_voc)

NUM_CLASSES = 4
IMG_SIZE = 40
CROP = 32


def make_data(root: str, num_train: int = 4, num_val: int = 2,
              seed: int = 0) -> str:
    """Generate tiny VOC-format data; returns its ``data_root``."""
    return generate_synthetic_voc(root, num_train=num_train,
                                  num_val=num_val, img_size=IMG_SIZE,
                                  seed=seed, num_classes=NUM_CLASSES)


def dataset(data_root: str, split: str, pipeline: list) -> dict:
    return dict(
        type='BaseSegDataset',
        data_root=data_root,
        data_prefix=dict(img_path='JPEGImages',
                         seg_map_path='SegmentationClass'),
        ann_file=f'ImageSets/Segmentation/{split}.txt',
        img_suffix='.jpg',
        seg_map_suffix='.png',
        metainfo=dict(classes=SYNTHETIC_CLASSES[:NUM_CLASSES],
                      palette=SYNTHETIC_PALETTE[:NUM_CLASSES]),
        pipeline=pipeline)


def runtime(data_root: str, max_iters: int = 4, checkpoint_interval: int = 2,
            val_interval: Optional[int] = None, batch_size: int = 2,
            deterministic: bool = True, custom_hooks=()) -> dict:
    """Everything but the model: random crop and flip (numpy draws), an
    iteration-based loop, a checkpoint every ``checkpoint_interval``
    iterations, every iteration's losses logged unsmoothed."""
    train_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='RandomCrop', crop_size=(CROP, CROP)),
        dict(type='RandomFlip', prob=0.5),
        dict(type='PackSegInputs')
    ]
    test_pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadAnnotations'),
        dict(type='PackSegInputs')
    ]
    val_loader = dict(
        batch_size=1, num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dataset(data_root, 'val', test_pipeline))
    cfg = dict(
        default_scope='mmkd',
        env_cfg=dict(cudnn_benchmark=False,
                     mp_cfg=dict(mp_start_method='fork',
                                 opencv_num_threads=0),
                     dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0, deterministic=deterministic),
        vis_backends=[dict(type='LocalVisBackend')],
        # no name: each runner gets its own (named after the experiment)
        visualizer=dict(type='SegLocalVisualizer',
                        vis_backends=[dict(type='LocalVisBackend')]),
        log_processor=dict(by_epoch=False, window_size=1),
        log_level='WARNING',
        load_from=None,
        resume=False,
        train_dataloader=dict(
            batch_size=batch_size, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dataset(data_root, 'train', train_pipeline)),
        optim_wrapper=dict(type='OptimWrapper', optimizer=dict(
            type='SGD', lr=0.01, momentum=0.9, weight_decay=5e-4)),
        param_scheduler=[dict(type='PolyLR', eta_min=1e-4, power=0.9,
                              begin=0, end=max_iters, by_epoch=False)],
        train_cfg=dict(type='IterBasedTrainLoop', max_iters=max_iters,
                       val_interval=val_interval or max_iters + 1),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(type='LoggerHook', interval=1,
                        log_metric_by_epoch=False),
            param_scheduler=dict(type='ParamSchedulerHook'),
            checkpoint=dict(type='CheckpointHook', by_epoch=False,
                            interval=checkpoint_interval),
            sampler_seed=dict(type='DistSamplerSeedHook')),
        custom_hooks=list(custom_hooks))
    if val_interval:
        cfg.update(val_dataloader=val_loader, val_cfg=dict(type='ValLoop'),
                   val_evaluator=dict(type='IoUMetric',
                                      iou_metrics=['mIoU']))
    return cfg


def tiny_seg_model(base_channels: int = 4, head_channels: int = 8) -> dict:
    cfg = tiny_deeplabv3(base_channels, head_channels, NUM_CLASSES)
    cfg['data_preprocessor']['size'] = (CROP, CROP)
    return cfg


def tiny_distiller(distill: Optional[List[dict]] = None, **kwargs) -> dict:
    """A SegDistiller of a width-4 student and a width-8 teacher with an
    ICKD item on ``decode_head.bottleneck`` (connector + resize)."""
    student = tiny_seg_model(4, 8)
    if distill is None:
        distill = [dict(
            name='loss_ickd',
            student='decode_head.bottleneck',
            teacher='decode_head.bottleneck',
            student_transforms=[dict(type='ConvBNConnector'),
                                dict(type='Resize')],
            loss=dict(type='ICKDLoss', grid_size=(2, 2), loss_weight=1e-2))]
    return dict(
        type='SegDistiller',
        student=student,
        teacher=tiny_seg_model(8, 16),
        data_preprocessor=copy.deepcopy(student['data_preprocessor']),
        probe_input_shape=(2, 3, CROP, CROP),
        distill=distill,
        **kwargs)


_RUNS = itertools.count()


def unique_name(prefix: str = 'run') -> str:
    """An experiment name no other runner in this process has: mmengine
    keys its logger, message hub and visualizer by it."""
    return f'{prefix}_{os.getpid()}_{next(_RUNS)}'


def logged_scalars(work_dir: str) -> Dict[int, dict]:
    """Step -> the training scalars logged at that step, read from every
    ``<work_dir>/<timestamp>/vis_data/scalars.json`` (later runs win)."""
    steps: Dict[int, dict] = {}
    for path in sorted(glob.glob(osp.join(work_dir, '*', 'vis_data',
                                          'scalars.json'))):
        with open(path) as f:
            for line in f:
                record = json.loads(line)
                if 'loss' in record:  # a training record
                    steps[record['step']] = record
    return steps


def loss_terms(record: dict) -> Dict[str, float]:
    return {k: v for k, v in record.items() if 'loss' in k}


def tiny_segformer(num_classes: int = NUM_CLASSES) -> dict:
    """A SegFormer (MiT) at width 8 with one block per stage: 1/4 .. 1/32
    maps of 8, 16, 40, 64 channels; logits at 1/4."""
    norm_cfg = dict(type='BN', requires_grad=True)
    return dict(
        type='EncoderDecoder',
        data_preprocessor=dict(tiny_seg_model()['data_preprocessor']),
        backbone=dict(
            type='MixVisionTransformer', in_channels=3, embed_dims=8,
            num_stages=4, num_layers=[1, 1, 1, 1], num_heads=[1, 2, 5, 8],
            patch_sizes=[7, 3, 3, 3], sr_ratios=[8, 4, 2, 1],
            out_indices=(0, 1, 2, 3), mlp_ratio=2, qkv_bias=True,
            drop_rate=0.0, attn_drop_rate=0.0, drop_path_rate=0.1),
        decode_head=dict(
            type='SegformerHead', in_channels=[8, 16, 40, 64],
            in_index=[0, 1, 2, 3], channels=16, dropout_ratio=0.1,
            num_classes=num_classes, norm_cfg=norm_cfg, align_corners=False,
            loss_decode=dict(type='CrossEntropyLoss', use_sigmoid=False,
                             loss_weight=1.0)),
        train_cfg=dict(),
        test_cfg=dict(mode='whole'))
