# ICKD-S with a 32x32 grid on the ICKD paper's own pair: DeepLabV3+ R101-D8
# -> DeepLabV3+ MobileNetV2-D8, VOC12 aug, 40k iterations, batch 16, i.e.
#   ./ickd-s4x4_deeplabv3plus-r101_deeplabv3plus-mbv2_voc12aug-512x512_40k.py
# with only the grid changed (the paper's 1x1 / 4x4 / 16x16 / 32x32 study).
#
# ickd_alpha (10, per pixel) is kept; the loss weight follows the cell size
# (ickd_alpha / p^2, see configs/ickd_voc.py): on the 128x128 decoder map a
# 32x32 grid gives p = 16 pixels per cell and loss_weight = 0.0391,
# 4096 times the 4x4 config's.
#   python tools/train.py configs/ickd/ickd-s32x32_deeplabv3plus-r101_deeplabv3plus-mbv2_voc12aug-512x512_40k.py  # noqa: E501
_base_ = './ickd-s4x4_deeplabv3plus-r101_deeplabv3plus-mbv2_voc12aug-512x512_40k.py'  # noqa: E501

ickd_grid = (32, 32)
ickd_cell_pixels = (_base_.ickd_feature_size[0] // ickd_grid[0]) * (
    _base_.ickd_feature_size[1] // ickd_grid[1])

model = dict(distill=[
    dict(
        _base_.model.distill[0],
        loss=dict(
            _base_.model.distill[0].loss,
            grid_size=ickd_grid,
            loss_weight=_base_.ickd_alpha / ickd_cell_pixels**2)),
])
