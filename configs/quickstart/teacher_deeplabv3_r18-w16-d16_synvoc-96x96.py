# Quickstart teacher: DeepLabV3, ResNetV1c-18 at quarter width (16), output
# stride 16, trained from scratch on the synthetic VOC-format data (96x96
# crops of 128x128 images, batch 8). The quickstart trains it once and
# caches it in work_dirs/quickstart/teacher/.
#   python tools/train.py configs/quickstart/teacher_deeplabv3_r18-w16-d16_synvoc-96x96.py
_base_ = [
    './_base_/models.py', './_base_/data.py',
    '../_base_/default_runtime.py', './_base_/schedule.py'
]
max_iters = 2500
model = _base_.teacher_model
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=0,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(interval=max_iters))
