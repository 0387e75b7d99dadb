# MGD-AMP (Yue et al., ECCV 2020; docs/methods.md "MGD") on the quickstart
# pair: MatchingGuidedLoss on the 4 backbone stages before their final ReLU
# (input of the last ReLU call of each stage's last BasicBlock: bn2(x) +
# identity), 4 teacher channels (32/64/128/256) per student channel
# (8/16/32/64), no adapter besides the loss's student-side BN. As in the
# paper, the student starts from pretrained weights (here the pretext
# backbone, mmkd/apis/pretext.py) and the assignment, not a trainable
# connector, pairs its channels with the teacher's.
_base_ = ['./_base_/distill.py']

# The weight rule's probe (./_base_/distill.py) first solves the matching
# on the hook's image set, so it measures the loss the student trains with.

model = dict(distill=[
    dict(name='loss_mgd',
         student=[dict(module=f'backbone.layer{i}.1.relu',
                       source='input') for i in (1, 2, 3, 4)],
         teacher=[dict(module=f'backbone.layer{i}.1.relu',
                       source='input') for i in (1, 2, 3, 4)],
         loss=dict(type='MatchingGuidedLoss', reduction='amp',
                   loss_factor=1.0)),
])
# Coordinate descent: match before training and every 200 iterations (3
# matchings in 600) on 256 fixed *training* images without augmentation
# (never the val split).
mgd_loader = dict(
    batch_size=16, num_workers=0, persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(_base_.train_dataloader.dataset,
                 pipeline=_base_.test_pipeline))
custom_hooks = _base_.custom_hooks + [
    dict(type='MatchingGuidedHook', interval=200, num_images=256,
         dataloader=mgd_loader)
]
