# AT, attention transfer (Zagoruyko & Komodakis, ICLR 2017; docs/methods.md
# "AT"), DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3 R18-D8 on
# Pascal VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4): the
# recipe of configs/baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py
# plus one AT term per stage.
#   python tools/train.py configs/at/at_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py  # noqa: E501
#
# Layers, as the paper's ImageNet ResNet experiment: the outputs of the last
# two residual groups, backbone.layer3 and backbone.layer4 (both 64x64 at
# output stride 8; 1024 / 2048 teacher vs 256 / 512 student channels: AT
# compares spatial maps mean_c |F_c|^2, so no connector).
#
# Weight: the paper's rule, beta = 1000 on each layer's squared distance of
# the L2-normalised attention maps averaged over batch and positions, with
# the authors' beta/2; mmkd sums over positions, so per layer
# loss_weight = 500 / (H * W) = 500 / 64^2 = 0.122. Untuned for
# segmentation: the normalised attention maps bound each term by 2, so this
# term stays well below decode.loss_ce; tune beta on a log scale (x3, x10)
# and watch distill.loss_at_* or dict(type='GradRatioHook', interval=50).
_base_ = [
    '../baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py',
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
        for s, t in (('layer3', 'layer3'), ('layer4', 'layer4'))
    ])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
