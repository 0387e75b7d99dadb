# Channel-wise distillation (Shu et al., ICCV 2021) on the class logits
# (decode_head.conv_seg): per channel, KL between the spatial softmaxes,
# tau = 1 as configs/cwd/.
_base_ = ['./_base_/distill.py']

model = dict(distill=[
    dict(name='loss_cwd',
         student=dict(module='decode_head.conv_seg',
                      source='output'),
         teacher=dict(module='decode_head.conv_seg',
                      source='output'),
         loss=dict(type='ChannelWiseDivergence',
                   tau=1.0,
                   loss_weight=1.0)),
])
