# MGD-RD (random drop: each student channel is compared with one random
# member of its group of 4 matched teacher channels): the MGD-AMP
# quickstart config with another reduction; everything else is unchanged.
_base_ = './mgd-amp_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py'
model = dict(distill=[
    dict(_base_.model.distill[0],
         loss=dict(_base_.model.distill[0].loss, reduction='rd'))
])
