# DLKD as ./dlkd_... (4x4 regions of layer4), on a 8x8 grid. Tried
# because ./dlkd_... took ICKD-S's grid count without a sweep: whether
# DLKD's gain on regions depends on the grid (docs/efficacy.md, "DLKD on
# regions").
_base_ = ['./dlkd_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

_regions = dict(type='RegionAvgPool', grid=8)
model = dict(distill=[
    dict(item,
         student_transforms=[_regions, dict(type='MLPProjector')],
         teacher_transforms=[_regions]) for item in _base_.model.distill
])
