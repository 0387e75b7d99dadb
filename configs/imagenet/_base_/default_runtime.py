# Runtime of mmkd's classification configs: mmengine defaults, epoch-based
# logging and checkpoints, default_scope 'mmkd' (mmpretrain types are
# written 'mmpretrain.X', so they resolve under this scope too).
default_scope = 'mmkd'
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=100),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=1, max_keep_ckpts=3,
                    save_best='accuracy/top1', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(type='Visualizer', vis_backends=vis_backends)
log_processor = dict(by_epoch=True)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=None, deterministic=False)
# mmkd's fault handling (see ../../_base_/default_runtime.py): stop at the
# first NaN/Inf loss term; save the random states for an exact --resume.
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='ExactResumeHook')]
