# Quickstart teacher: ResNet18 layout at half width (BasicBlock [2,2,2,2],
# width 32, 2.8M parameters), trained from scratch on the synthetic shapes
# for 2500 iterations (the students get 1000): ~85 top-1, where the student
# alone reaches ~55.
#   python tools/train.py \
#       configs/imagenet/quickstart/teacher_resnet18-w32_syncls-64px.py
_base_ = ['./_base_/models.py', './_base_/schedule.py', './_base_/runtime.py']
model = _base_.teacher_model
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0,
         end=50),
    dict(type='CosineAnnealingLR', eta_min=0, by_epoch=False, begin=50,
         end=2500)
]
train_cfg = dict(max_iters=2500, val_interval=2500)
default_hooks = dict(checkpoint=dict(interval=2500))
