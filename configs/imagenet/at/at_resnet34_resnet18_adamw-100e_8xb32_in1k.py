# AT (Zagoruyko & Komodakis, ICLR 2017; docs/methods.md "AT") on ImageNet:
# torchvision ResNet34 (73.31) -> ResNet18 from its ImageNet weights
# (69.76), the ICKD-C recipe of ../baselines/ (AdamW 2e-4, 100 epochs,
# batch 256 = 8 GPUs x 32), CE + one AT term per stage, no KD term.
#   tools/dist_train.sh configs/imagenet/at/at_resnet34_resnet18_adamw-100e_8xb32_in1k.py 8
# Layers, as the paper's ImageNet ResNet-34 -> ResNet-18 experiment: the
# outputs of the last two groups, layer3 (14x14) and layer4 (7x7).
# Weight, the paper's: beta = 1000 on each layer's squared attention
# distance averaged over batch and positions, times the authors' 1/2; mmkd
# sums over positions: loss_weight = 500 / (H * W) per layer. (The
# paper's ImageNet run used its own recipe; this one is ICKD-C's, from
# ImageNet weights, so the weight is untuned here.)
_base_ = [
    '../baselines/resnet18_tv-in1k_adamw-100e_8xb32_in1k.py',
    '../_base_/teacher_resnet34_tv-in1k.py',
]
at_beta = 1000.0
model = dict(
    _delete_=True, type='ClsDistiller', student=_base_.model,
    teacher=_base_.teacher_model, teacher_checkpoint=_base_.teacher_checkpoint,
    data_preprocessor=_base_.data_preprocessor,
    distill=[
        dict(name=f'loss_at_{layer}', student=layer, teacher=layer,
             loss=dict(type='ATLoss', p=2, loss_weight=at_beta / 2 / size**2))
        for layer, size in (('layer3', 14), ('layer4', 7))
    ])
find_unused_parameters = False
