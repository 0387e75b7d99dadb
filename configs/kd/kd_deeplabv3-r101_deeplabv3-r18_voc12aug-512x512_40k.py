# Pixel-wise KD (Hinton et al. 2015) baseline, DeepLabV3 R101-D8 (mmseg zoo,
# 78.70 mIoU) -> DeepLabV3 R18-D8 on Pascal VOC 2012 aug, 512x512, 40k
# iterations, batch 16 (4 GPUs x 4): the recipe of
# configs/baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py plus
#   w * tau^2 * KL(softmax(z_T / tau) || softmax(z_S / tau)),
# per pixel on the class logits (the output of decode_head.conv_seg, 21
# channels in both models, 64x64 for a 512x512 crop; no connector), averaged
# over pixels whose label is not ignore_index (255). tau = 1 and w = 1 as in
# CIRKD's KD baseline.
#   python tools/train.py \
#       configs/kd/kd_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py
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
            name='loss_kd',
            student=dict(
                module='decode_head.conv_seg', source='output'),
            teacher=dict(
                module='decode_head.conv_seg', source='output'),
            loss=dict(
                type='KDLoss', tau=1.0, loss_weight=1.0, ignore_index=255)),
    ])
find_unused_parameters = False
# Evaluate the frozen teacher on VOC val once before training (a check that
# the zoo checkpoint loaded: expect its published mIoU) and log the
# student's mIoU as a fraction of the teacher's after every validation.
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
