# Adapted from mmsegmentation 1.2.2 `configs/_base_/default_runtime.py`
# (Apache-2.0, Copyright (c) OpenMMLab). Changed: default_scope is 'mmkd'.
#
# mmkd's registries are children of mmseg's, so with scope 'mmkd' every
# mmseg (and mmengine) type still resolves, and mmkd's own types (distiller,
# losses, connectors, hooks) resolve first.
default_scope = 'mmkd'
env_cfg = dict(
    cudnn_benchmark=True,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
vis_backends = [dict(type='LocalVisBackend')]
visualizer = dict(
    type='SegLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_processor = dict(by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False

tta_model = dict(type='SegTTAModel')

# mmkd's fault handling, on in every config built on this runtime (a config
# that sets its own custom_hooks keeps them: `_base_.custom_hooks + [...]`):
# NonFiniteLossHook stops training at the first NaN/Inf loss term, naming
# the iteration and the term, before that iteration is checkpointed;
# ExactResumeHook saves the random generators' states in checkpoints so
# that --resume continues exactly (docs/faults.md).
custom_hooks = [dict(type='NonFiniteLossHook'), dict(type='ExactResumeHook')]
