# IRG's edge term alone (same feature, pooling and rule as
# ./irg-3terms_...).
# Tried because IRG makes the student worse on this protocol: an ablation
# that shows which of its three terms does it
# (docs/efficacy.md, "KD and IRG").
_base_ = ['./irg-3terms_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

model = dict(distill=[_base_.model.distill[1]])
