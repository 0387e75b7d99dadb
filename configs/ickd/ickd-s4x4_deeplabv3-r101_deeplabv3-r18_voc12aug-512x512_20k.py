# ICKD-S 4x4, DeepLabV3 R101-D8 -> DeepLabV3 R18-D8 on VOC12 aug, 20k
# iterations: configs/ickd_voc.py (same teacher, student, layer, alpha and
# grid) on the 20k schedule. Compare with the 20k student-only baseline
# configs/baselines/deeplabv3_r18-d8_4xb4-20k_voc12aug-512x512.py, whose
# schedule this one repeats (tests/test_configs.py checks they match).
#   python tools/train.py \
#       configs/ickd/ickd-s4x4_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_20k.py
_base_ = '../ickd_voc.py'

# configs/_base_/schedules/schedule_20k.py, over the flagship's 40k one.
param_scheduler = [
    dict(
        type='PolyLR',
        eta_min=1e-4,
        power=0.9,
        begin=0,
        end=20000,
        by_epoch=False)
]
train_cfg = dict(max_iters=20000, val_interval=2000)
default_hooks = dict(checkpoint=dict(interval=2000))
