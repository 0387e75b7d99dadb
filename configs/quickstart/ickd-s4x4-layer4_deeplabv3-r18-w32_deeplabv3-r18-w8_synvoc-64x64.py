# ICKD-S 4x4 on the last backbone stage before its final ReLU (input of the
# last ReLU call of `backbone.layer4`'s last BasicBlock: bn2(x) + identity),
# the student's 64 channels lifted to the teacher's 256 by a
# ConvBNConnector. Tried because every method that wins on this protocol
# distils the *pretrained* backbone (FitNets, AT, DLKD on `layer4`; MGD on
# every stage, pre-ReLU) or the logits, while ICKD-S's bottleneck belongs to
# the decode head, which starts untrained in the student; and pre-ReLU for
# the reason of ./ickd-s4x4_...: after a ReLU the cells' ICC
# matrices are dominated by the channel means.
_base_ = ['./ickd-s4x4-postrelu_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

# Ratio from a held-out sweep (docs/efficacy.md), run beside the pre-ReLU
# bottleneck (then the variant `ickd_pre`, now ./ickd-s4x4_...):
#   tools/benchmark_efficacy.py --sweep-ratios 0.5 2 --methods ickd_pre \
#       ickd_l4 --seeds 0
# held-out mIoU, student alone 42.41: 0.5 46.88, 2 48.81.
distill_weight_rule = dict(grad_ratio=2.0, batches=4)

model = dict(distill=[
    dict(_base_.model.distill[0],
         student=dict(module='backbone.layer4.1.relu', source='input'),
         teacher=dict(module='backbone.layer4.1.relu', source='input'),
         student_transforms=[dict(type='ConvBNConnector')])
])
