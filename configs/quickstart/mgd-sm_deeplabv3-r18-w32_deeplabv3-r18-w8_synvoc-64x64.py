# MGD-SM (sparse matching: one teacher channel per student channel, one to
# one; the other 3/4 of the teacher's channels are left out): the MGD-AMP
# quickstart config with another reduction; everything else is unchanged.
_base_ = './mgd-amp_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py'
model = dict(distill=[
    dict(_base_.model.distill[0],
         loss=dict(_base_.model.distill[0].loss, reduction='sm'))
])
