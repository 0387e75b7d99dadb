# Quickstart schedule: mmseg's SGD + poly recipe (configs/_base_/schedules/
# schedule_20k.py) shortened to a few hundred iterations of batch 8 on a CPU.
# Training from scratch for so few iterations needs a larger learning rate
# than mmseg's 0.01 (which assumes an ImageNet-pretrained backbone).
# `max_iters` below is the default; configs set their own, and the
# quickstart's --iters rescales every iteration count consistently.
max_iters = 300
optimizer = dict(type='SGD', lr=0.05, momentum=0.9, weight_decay=0.0005)
optim_wrapper = dict(type='OptimWrapper', optimizer=optimizer, clip_grad=None)
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
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
