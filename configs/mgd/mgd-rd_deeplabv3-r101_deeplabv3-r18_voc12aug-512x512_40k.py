# MGD-RD (random drop): the MGD-AMP R101 -> R18 config with each student
# channel's 4 teacher channels reduced by a uniformly random member per
# position (and that member's margin) instead of the largest magnitude.
_base_ = './mgd-amp_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py'
model = dict(distill=[
    dict(_base_.model.distill[0],
         loss=dict(_base_.model.distill[0].loss, reduction='rd'))
])
