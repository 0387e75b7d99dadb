# ICKD-S 4x4 on the class logits (decode_head.conv_seg, 7 channels on both
# sides): no connector at all, the student's own logits carry the teacher's
# inter-class correlations per grid cell. Tried because a trainable
# connector absorbs the match at the bottleneck (docs/efficacy.md) and the
# logit-level method CWD is the one that gains most on this pair.
_base_ = ['./ickd-s4x4-postrelu_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']
# The ratio this variant was run with (docs/efficacy.md), before the
# 4x4 config's held-out sweep chose 2.0.
distill_weight_rule = dict(grad_ratio=0.5, batches=4)

model = dict(distill=[
    dict(_base_.model.distill[0],
         student=dict(module='decode_head.conv_seg', source='output'),
         teacher=dict(module='decode_head.conv_seg', source='output'),
         student_transforms=[])
])
