# IRG as ./irg-images_... (vertex term per pixel + edge term on the pooled last
# stage, one embedding per image), with the rule first giving both items
# the same gradient norm (balance_items; edge weight about 130 times the
# vertex's). Tried because at equal weights that IRG gives its edge
# term under 1% of its gradient (vertex norm 54.2, edge 0.42 by
# --probe-losses), so it trains as a logit MSE; the region graph with its
# full share (./irg-regions4x4_...) collapsed the student, and this asks
# the same of the per-image graph, IRG's own (docs/efficacy.md, "KD and
# IRG").
_base_ = ['./irg-images_deeplabv3-r18-w32_deeplabv3-r18-w8_synvoc-64x64.py']

distill_weight_rule = dict(grad_ratio=0.5, batches=4, balance_items=True)
