# torchvision's ResNet recipe (pytorch/examples imagenet, the one its
# IMAGENET1K_V1 weights were trained with): SGD lr 0.1, momentum 0.9,
# weight decay 1e-4, lr x0.1 at epochs 30 and 60, 90 epochs, total batch
# 256 = 8 GPUs x 32 images. Also mmpretrain's imagenet_bs256.py schedule.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.1, momentum=0.9, weight_decay=1e-4))
param_scheduler = [
    dict(type='MultiStepLR', by_epoch=True, milestones=[30, 60], gamma=0.1)
]
train_cfg = dict(by_epoch=True, max_epochs=90, val_interval=1)
val_cfg = dict()
test_cfg = dict()
auto_scale_lr = dict(enable=False, base_batch_size=256)
