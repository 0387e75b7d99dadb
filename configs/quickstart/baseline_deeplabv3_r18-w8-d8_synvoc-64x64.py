# Quickstart student alone (the baseline every distillation gain is measured
# against): DeepLabV3, ResNetV1c-18 at 1/8 width (8), output stride 8,
# cross-entropy only, fine-tuned from its pretext-pretrained backbone for
# 1800 iterations (at 600 its seeds land 3.3 mIoU apart, at 1800 0.5:
# docs/efficacy.md). The distillation configs next to it inherit this file
# through ./_base_/distill.py and change nothing but the model (student
# wrapped in a SegDistiller).
#   python tools/train.py configs/quickstart/baseline_deeplabv3_r18-w8-d8_synvoc-64x64.py
_base_ = [
    './_base_/models.py', './_base_/data.py', '../_base_/default_runtime.py',
    './_base_/schedule.py'
]
max_iters = 1800
model = _base_.student_model
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
