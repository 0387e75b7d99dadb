# FitNets hint (Romero et al., ICLR 2015; docs/methods.md "FitNets"),
# DeepLabV3 R101-D8 (mmseg zoo, 78.70 mIoU) -> DeepLabV3 R18-D8 on Pascal
# VOC 2012 aug, 512x512, 40k iterations, batch 16 (4 GPUs x 4): the recipe
# of configs/baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py plus
# w * MSE(regressor(student hint layer), teacher hint layer).
#   python tools/train.py configs/fitnets/fitnets_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py  # noqa: E501
#
# Layers, as the paper says: the hint is the teacher's middle layer and the
# guided layer the student's middle layer (deeper hints over-regularise, the
# paper argues): the end of stage 2 of 4, backbone.layer2 on both sides
# (64x64 at output stride 8; 512 teacher / 128 student channels), the
# regressor a ConvBNConnector (1x1 conv + BN, dropped at export).
# The paper's stage-wise training (hint first, then KD) becomes one stage:
# the hint term is added to the task loss from the start.
#
# Weight: mmkd's rule for the VOC configs, untuned: the term starts at about
# the initial task loss, decode.loss_ce ~ ln 21 = 3.04. At the start the
# regressor's BN output has unit variance and is uncorrelated with the
# teacher's map, so the mean squared error is ~1 + E[t^2]; for the
# teacher's post-ReLU residual stream mmkd estimates ~2 (not measured):
# loss_weight = 3.04 / 2 = 1.52. Tune on a log scale (x1/3, x3, x10),
# keeping distill.loss_fitnets within an order of magnitude of
# decode.loss_ce; dict(type='GradRatioHook', interval=50) in custom_hooks
# logs the gradient-norm ratio to the task's.
_base_ = [
    '../baselines/deeplabv3_r18-d8_4xb4-40k_voc12aug-512x512.py',
    '../_base_/distill/teacher_deeplabv3_r101-d8_voc12aug.py',
]
ce_init = 3.04  # ln(21): cross-entropy of a uniform 21-class prediction
fitnets_init = 2.0  # estimated initial mean squared error (see the header)
model = dict(
    _delete_=True, type='SegDistiller',
    data_preprocessor=_base_.data_preprocessor, student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    distill=[dict(
        name='loss_fitnets', student='backbone.layer2',
        teacher='backbone.layer2',
        student_transforms=[dict(type='ConvBNConnector'),
                            dict(type='Resize', mode='bilinear')],
        loss=dict(type='FitNetsLoss', reduction='mean',
                  loss_weight=ce_init / fitnets_init))])
find_unused_parameters = False
custom_hooks = _base_.custom_hooks + [dict(type='TeacherEvalHook')]
