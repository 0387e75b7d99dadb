# Adapted from mmsegmentation 1.2.2 `configs/_base_/schedules/schedule_20k.py`
# (Apache-2.0, Copyright (c) OpenMMLab); adds auto_scale_lr.
#
# 20k iterations, SGD lr 0.01 / momentum 0.9 / weight decay 5e-4, poly decay
# (power 0.9) to 1e-4: mmseg's VOC recipe. The learning rate is meant for a
# total batch of 16 = 4 GPUs x 4 images per GPU (the dataset bases set
# train_dataloader.batch_size=4 per GPU). On another number of GPUs keep 16
# in total (e.g. 8 GPUs x 2: --cfg-options train_dataloader.batch_size=2) or
# set --cfg-options auto_scale_lr.enable=True, with which mmengine's Runner
# scales lr linearly by (total batch / base_batch_size).
# (CIRKD's VOC recipe differs: lr 0.02, weight decay 1e-4; mmkd follows mmseg
# so that the teachers and the students share one recipe.)
optimizer = dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
# learning policy
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=20000,
        by_epoch=False)
]
# training schedule for 20k
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=20000, val_interval=2000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=2000),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
# Total batch the lr above is tuned for (4 GPUs x 4 images).
auto_scale_lr = dict(enable=False, base_batch_size=16)
