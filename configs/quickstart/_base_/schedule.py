# Quickstart schedule: mmseg's poly decay (configs/_base_/schedules/
# schedule_20k.py) over a few hundred to a few thousand iterations of batch
# 8 on a CPU. The backbones start from the pretext-pretrained weights (see
# ./models.py) and the heads from scratch; AdamW (mmseg's optimizer for
# SegFormer) fine-tunes both quickly where SGD 0.01 barely moves the fresh
# heads in so few iterations.
# `max_iters` below is the default; configs set their own, and the
# quickstart's --iters rescales every iteration count consistently.
max_iters = 600
optimizer = dict(type='AdamW', lr=0.002, betas=(0.9, 0.999),
                 weight_decay=0.01)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
# One validation at the end (the number the quickstart reports).
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    # Every 10 iterations: loss, lr, time per iteration and ETA.
    logger=dict(type='LoggerHook', interval=10, log_metric_by_epoch=False),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(
        type='CheckpointHook',
        by_epoch=False,
        interval=max_iters,
        max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='SegVisualizationHook'))
auto_scale_lr = dict(enable=False, base_batch_size=8)
# Same seed for every run, so baseline and distilled students start from
# the same weights and see the same batches; the quickstart's --seed and
# tools/benchmark_efficacy.py change it.
randomness = dict(seed=0)
