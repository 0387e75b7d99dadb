# MGD-SM (sparse matching): the MGD-AMP R101 -> R18 config with one teacher
# channel per student channel (a one-to-one assignment; the other 3/4 of the
# teacher channels are left out). Everything else is unchanged.
_base_ = './mgd-amp_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py'
model = dict(distill=[
    dict(_base_.model.distill[0],
         loss=dict(_base_.model.distill[0].loss, reduction='sm'))
])
