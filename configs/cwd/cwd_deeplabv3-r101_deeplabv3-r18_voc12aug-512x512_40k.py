# CWD (Shu et al., ICCV 2021) baseline, DeepLabV3 R101-D8 (mmseg zoo, 78.70
# mIoU) -> DeepLabV3 R18-D8 on Pascal VOC 2012 aug, 512x512, 40k iterations,
# batch 16 (4 GPUs x 4): the recipe of
# configs/baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py plus the
# channel-wise distillation loss on the class logits (the output of
# decode_head.conv_seg, 21 channels in both models; no connector): per
# channel, a softmax over the 64x64 positions at temperature tau, KL
# teacher -> student, tau^2 * sum / (C * B).
# tau = 1, loss weight 5: mmrazor's CWD segmentation recipe (logits of
# decode_head.conv_seg, Cityscapes PSPNet R101 -> R18, 74.87 -> 75.54 mIoU;
# methods.md section 6), used unchanged for VOC; untuned here.
#   python tools/train.py \
#       configs/cwd/cwd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py
_base_ = [
    '../baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]

model = dict(
    _delete_=True,
    type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor,
    student=_base_.model,
    teacher=_base_.teacher_model,
    # mmseg zoo DeepLabV3 R101-D8 VOC12aug 20k (78.70 mIoU).
    teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(
            name='loss_cwd',
            student=dict(
                module='decode_head.conv_seg', source='output'),
            teacher=dict(
                module='decode_head.conv_seg', source='output'),
            loss=dict(type='ChannelWiseDivergence', tau=1.0, loss_weight=5.0)),
    ])
find_unused_parameters = False
# Evaluate the frozen teacher on VOC val once before training (a check that
# the zoo checkpoint loaded: expect its published mIoU) and log the
# student's mIoU as a fraction of the teacher's after every validation.
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
