# Attention transfer (Zagoruyko & Komodakis, ICLR 2017) on the last
# backbone stage (backbone.layer4, 8x8, 64 vs 256 channels): L2 between the
# normalised spatial maps sum_c |F_c|^2.
_base_ = ['./_base_/distill.py']

model = dict(distill=[
    dict(name='loss_at',
         student=dict(module='backbone.layer4', source='output'),
         teacher=dict(module='backbone.layer4', source='output'),
         loss=dict(type='ATLoss', p=2, loss_weight=1.0)),
])
