# MGD-AMP: DeepLabV3 R101-D8 -> MobileNetV2-D8, VOC12 aug, 512x512, 40k: the
# MobileNetV2 baseline recipe plus MatchingGuidedLoss. MobileNetV2's stages
# end in a linear bottleneck (no ReLU): their outputs are pre-activation maps.
# Distilled: the 4 the D8 backbone outputs, layer2/3/5/7 (24/32/96/320 ch at
# strides 4/8/8/8), R101's layer1-4 strides: 10/16/10/6 teacher channels per
# student channel (16/0/64/128 left out). Matching as in the R18 AMP config.
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py']
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[dict(
        name='loss_mgd',
        student=[f'backbone.layer{i}' for i in (2, 3, 5, 7)],
        teacher=[dict(module=f'backbone.layer{i}.{n - 1}.relu', source='input')
                 for i, n in ((1, 3), (2, 4), (3, 23), (4, 3))],
        # Untuned: the authors' 1e4 (ImageNet, 224x224) times the growth of
        # sum_i C_i*H_i*W_i/2^(3-i) at 512x512, D8 (1589248 vs 40768).
        loss=dict(type='MatchingGuidedLoss', reduction='amp',
                  loss_factor=1e4 * 1589248 / 40768))])
mgd_loader = dict(
    _base_.val_dataloader, num_workers=2, persistent_workers=False,
    dataset=dict(_base_.train_dataloader.dataset, datasets=[
        dict(d, pipeline=_base_.test_pipeline)
        for d in (_base_.dataset_train, _base_.dataset_aug)]))
custom_hooks = _base_.custom_hooks + [
    dict(type='TeacherEvalHook'),
    dict(type='MatchingGuidedHook', interval=2000, num_images=512,
         dataloader=mgd_loader)]
