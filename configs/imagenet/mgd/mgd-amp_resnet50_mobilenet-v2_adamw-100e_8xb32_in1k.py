# MGD-AMP (Yue et al., ECCV 2020; docs/methods.md "MGD") on ImageNet,
# torchvision ResNet50 (76.13) -> MobileNetV2 from its ImageNet weights
# (71.88), the recipe of ../baselines/mobilenet-v2_tv-in1k_adamw-100e_8xb32_in1k.py
# (AdamW 2e-4, 100 epochs, batch 256 = 8 GPUs x 32) plus MatchingGuidedLoss.
# The paper's headline is ResNet50 -> MobileNet(-V1): 68.87 -> 71.47 top-1;
# torchvision has no V1, so mmkd distils V2 (not the paper's number).
#   tools/dist_train.sh configs/imagenet/mgd/mgd-amp_resnet50_mobilenet-v2_adamw-100e_8xb32_in1k.py 8
# Layers: stage outputs before their final activation. ResNet50: the input
# of the last ReLU call of each stage's last block (bn3(x) + identity).
# MobileNetV2's inverted residual blocks end with a linear 1x1 projection
# (no ReLU), so a block's output already is the pre-activation map: the
# last block of the stages at strides 8 / 16 / 32, features.6 / .13 / .17
# (32 / 96 / 320 ch, 28 / 14 / 7 px) against layer2 / 3 / 4 (512 / 1024 /
# 2048 ch, the same sizes): 16 / 10 / 6 teacher channels per student channel
# (0 / 64 / 128 left out). The stride-4 stage is skipped, as the authors do
# for MobileNetV2 (features.17, not features.18: the 1280-ch conv ends in a
# ReLU6 and is a classifier stem, not a stage). Stage factors 1/4, 1/2, 1;
# loss_factor 1e4, the authors' value at 224x224 (untuned here).
# Re-match every epoch on 20k fixed training images (the authors: every 1-2
# epochs, up to 20k images), through the test pipeline.
_base_ = ['../baselines/mobilenet-v2_tv-in1k_adamw-100e_8xb32_in1k.py',
          '../_base_/teacher_resnet50_tv-in1k.py']
model = dict(
    _delete_=True, type='ClsDistiller', student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    data_preprocessor=_base_.data_preprocessor,
    distill=[dict(
        name='loss_mgd', student=[f'features.{i}' for i in (6, 13, 17)],
        teacher=[dict(module=f'layer{i}.{n - 1}.relu', source='input')
                 for i, n in ((2, 4), (3, 6), (4, 3))],
        loss=dict(type='MatchingGuidedLoss', reduction='amp',
                  loss_factor=1e4))])
find_unused_parameters = False
mgd_loader = dict(
    _base_.val_dataloader, num_workers=2, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
    dataset=dict(_base_.val_dataloader.dataset, split='train'))
custom_hooks = _base_.custom_hooks + [
    dict(type='MatchingGuidedHook', by_epoch=True, interval=1,
         num_images=20000, dataloader=mgd_loader)]
