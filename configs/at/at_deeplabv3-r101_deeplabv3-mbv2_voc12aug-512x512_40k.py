# AT, DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3 MobileNetV2-D8
# on Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4):
# the recipe of
# configs/baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py
# plus one AT term per stage. Teacher layers and weight rule as in
# ./at_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py (see its
# header: R101's last two groups, 500 / 64^2 each). MobileNetV2 has seven
# stages; the counterparts of R101's layer3 / layer4 are the stages the two
# heads read: backbone.layer5 (96 ch, auxiliary head) and backbone.layer7
# (320 ch, ASPP head), both 64x64. Their outputs are linear bottlenecks
# (no ReLU, signed); AT's |F_c|^2 takes them as they are. Untuned.
#   python tools/train.py configs/at/at_deeplabv3-r101_deeplabv3-mbv2_voc12aug-512x512_40k.py  # noqa: E501
_base_ = [
    '../baselines/deeplabv3_mobilenet-v2-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
at_beta = 1000.0
at_feature_size = (64, 64)  # stride 8 of the 512x512 crop
at_weight = at_beta / 2 / (at_feature_size[0] * at_feature_size[1])
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[
        dict(name=f'loss_at_{t}', student=f'backbone.{s}',
             teacher=f'backbone.{t}',
             loss=dict(type='ATLoss', p=2, loss_weight=at_weight))
        for s, t in (('layer5', 'layer3'), ('layer7', 'layer4'))
    ])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
