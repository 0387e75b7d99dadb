# MGD-AMP (Yue et al., ECCV 2020; docs/methods.md "MGD"): DeepLabV3 R101-D8 ->
# R18-D8, VOC12 aug, 512x512, 40k, batch 16: the baseline recipe plus
# MatchingGuidedLoss on the 4 backbone stages before their final ReLU (input
# of the last ReLU call of a stage's last block: bn(x) + identity); 4 teacher
# channels (256/512/1024/2048) per student channel (64/128/256/512).
_base_ = ['../baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py',
          '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py']
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[dict(
        name='loss_mgd',
        student=[dict(module=f'backbone.layer{i}.1.relu', source='input')
                 for i in (1, 2, 3, 4)],
        teacher=[dict(module=f'backbone.layer{i}.{n - 1}.relu', source='input')
                 for i, n in ((1, 3), (2, 4), (3, 23), (4, 3))],
        # Untuned: the authors' 1e4 (ImageNet, 224x224) times the growth of
        # sum_i C_i*H_i*W_i/2^(3-i) at 512x512, D8 (2883584 vs 100352).
        loss=dict(type='MatchingGuidedLoss', reduction='amp',
                  loss_factor=1e4 * 2883584 / 100352))])
# Re-match every 2000 iters (~3 epochs) on 512 fixed, unaugmented train images.
mgd_loader = dict(
    _base_.val_dataloader, num_workers=2, persistent_workers=False,
    dataset=dict(_base_.train_dataloader.dataset, datasets=[
        dict(d, pipeline=_base_.test_pipeline)
        for d in (_base_.dataset_train, _base_.dataset_aug)]))
custom_hooks = _base_.custom_hooks + [
    dict(type='TeacherEvalHook'),
    dict(type='MatchingGuidedHook', interval=2000, num_images=512,
         dataloader=mgd_loader)]
