# ICKD-S with a 32x32 grid: configs/ickd_voc.py (DeepLabV3 R101-D8 -> R18-D8,
# VOC12 aug, 40k iterations, batch 16) with only the grid changed, and alpha
# rescaled with it.
#
# Why alpha changes: with the paper's normalisation 1/(n*m*C^2), a cell of
# p = H*W/(n*m) pixels gives Gram entries that are sums over p pixels, so the
# loss of the same features scales as p^2, i.e. as 1/(n*m)^2 (see "Why this
# alpha and layer" in configs/ickd_voc.py). Keeping alpha fixed would change
# the distillation strength by (16/(n*m))^2 (1/4096 here) and confound
# the grid comparison; alpha = alpha_4x4 * (n*m/16)^2 instead gives identical
# per-cell statistics the same loss as the 4x4 flagship (with spatially
# varying features, alpha * L of a grid is never below that of a coarser
# grid whose cells it subdivides). The paper's VOC results (DeepLabV3+ R18:
# 1x1 74.14, 4x4 74.97, 16x16 74.74, 32x32 75.01 mIoU) suggest comparable
# strengths across grids; its alpha was never released.
#   python tools/train.py configs/ickd/ickd-s32x32_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py  # noqa: E501
_base_ = '../ickd_voc.py'

ickd_grid = (32, 32)
# 40960 with the flagship's ickd_alpha = 10.0
ickd_alpha = _base_.ickd_alpha * (32 * 32 / 16)**2

model = dict(distill=[
    dict(
        _base_.model.distill[0],
        loss=dict(
            _base_.model.distill[0].loss,
            grid_size=ickd_grid,
            loss_weight=ickd_alpha)),
])
