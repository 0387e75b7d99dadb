# The ICKD-C ImageNet recipe (Liu et al., ICCV 2021; ../shared/specs/
# methods.md section 1): AdamW, lr 2e-4, 100 epochs, for a total batch of
# 256 = 8 GPUs x 32 images (the dataset base sets 32 per GPU).
# Not stated by the authors, chosen by mmkd: AdamW's default weight decay
# (0.01) and a cosine decay of the lr to 0 over the 100 epochs, per
# iteration. On another number of GPUs keep 256 in total or pass
# --cfg-options auto_scale_lr.enable=True (linear scaling by total batch /
# base_batch_size, done by mmengine's Runner).
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-4, betas=(0.9, 0.999),
                   weight_decay=0.01))
param_scheduler = [
    dict(type='CosineAnnealingLR', T_max=100, eta_min=0, by_epoch=True,
         begin=0, end=100, convert_to_iter_based=True)
]
train_cfg = dict(by_epoch=True, max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=256)
