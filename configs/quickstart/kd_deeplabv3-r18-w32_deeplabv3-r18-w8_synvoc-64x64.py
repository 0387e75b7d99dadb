# Pixel-wise KD (Hinton et al. 2015) on the quickstart pair: per-pixel
# KL(softmax(z_T / tau) || softmax(z_S / tau)) * tau^2 on the class logits
# (decode_head.conv_seg), averaged over non-ignored pixels.
_base_ = ['./_base_/distill.py']

model = dict(distill=[
    dict(name='loss_kd',
         student=dict(module='decode_head.conv_seg',
                      source='output'),
         teacher=dict(module='decode_head.conv_seg',
                      source='output'),
         loss=dict(type='KDLoss',
                   tau=1.0,
                   loss_weight=1.0,
                   ignore_index=255)),
])
