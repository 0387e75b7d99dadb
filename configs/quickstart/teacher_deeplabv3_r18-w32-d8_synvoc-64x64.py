# Quickstart teacher: DeepLabV3, ResNetV1c-18 at half width (32), output
# stride 8, on the synthetic VOC-format data (64x64 images, batch 8), its
# backbone initialised from the pretext-pretrained weights (set by the
# quickstart; see ./_base_/models.py). Trained once, long, and cached in
# work_dirs/quickstart/teacher/.
#   python tools/train.py configs/quickstart/teacher_deeplabv3_r18-w32-d8_synvoc-64x64.py
_base_ = [
    './_base_/models.py', './_base_/data.py', '../_base_/default_runtime.py',
    './_base_/schedule.py'
]
max_iters = 3000
model = _base_.teacher_model
param_scheduler = [
    dict(type='PolyLR',
         eta_min=0.0,
         power=0.9,
         begin=0,
         end=max_iters,
         by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
