"""MatchingGuidedHook: matching, schedule, resume, state, distributed."""
import copy
import os
import os.path as osp
import random
import re
import socket
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.dataset import DefaultSampler, pseudo_collate
from mmengine.logging import MMLogger
from mmengine.structures import PixelData
from mmseg.structures import SegDataSample
from tiny_models import tiny_deeplabv3
from torch.utils.data import DataLoader, Dataset

import mmkd.engine.hooks.matching_guided_hook as hook_module
from mmkd.engine.hooks import MatchingGuidedHook
from mmkd.models.losses.matching import channel_cost, match_channels
from mmkd.registry import HOOKS, MODELS

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
SIZE = 32


def mgd_item(reduction='amp'):
    specs = [
        dict(module=f'backbone.layer{i}.1.relu', source='input')
        for i in range(1, 5)
    ]
    return dict(
        name='loss_mgd',
        student=specs,
        teacher=copy.deepcopy(specs),
        loss=dict(type='MatchingGuidedLoss', reduction=reduction))


def build_distiller(reduction='amp', seed=0):
    torch.manual_seed(seed)
    student = tiny_deeplabv3(base_channels=8, head_channels=16)
    return MODELS.build(
        dict(
            type='SegDistiller',
            student=student,
            teacher=tiny_deeplabv3(base_channels=16, head_channels=32),
            data_preprocessor=copy.deepcopy(student['data_preprocessor']),
            probe_input_shape=(2, 3, SIZE, SIZE),
            distill=[mgd_item(reduction)]))


class Images(Dataset):
    """mmseg-style samples; ``noisy`` draws from numpy's global RNG like a
    random augmentation would."""

    def __init__(self, n=6, seed=0, noisy=False):
        gen = torch.Generator().manual_seed(seed)
        self.images = torch.randint(
            0, 256, (n, 3, SIZE, SIZE), generator=gen, dtype=torch.uint8)
        self.noisy = noisy

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        if self.noisy:
            np.random.rand()
            random.random()
        sample = SegDataSample(
            metainfo=dict(img_shape=(SIZE, SIZE), ori_shape=(SIZE, SIZE)))
        sample.gt_sem_seg = PixelData(
            data=torch.zeros(1, SIZE, SIZE, dtype=torch.long))
        return dict(inputs=self.images[i], data_samples=sample)


def loader(dataset=None, **kwargs):
    kwargs.setdefault('batch_size', 2)
    if dataset is None:
        dataset = Images()
    return DataLoader(dataset, collate_fn=pseudo_collate, **kwargs)


def fake_runner(model, val_loader=None, train_loader=None, **kwargs):
    values = dict(
        model=model,
        logger=MMLogger.get_current_instance(),
        val_loop=SimpleNamespace(
            dataloader=val_loader if val_loader is not None else loader()),
        train_loop=SimpleNamespace(dataloader=train_loader),
        iter=0,
        epoch=0,
        max_iters=10,
        max_epochs=5,
        seed=0)
    values.update(kwargs)
    return SimpleNamespace(**values)


def reference_assignment(distiller, data_loader, mode='many_to_one'):
    """Cost accumulated here, independently of the hook, then solved."""
    distiller.eval()
    costs = None
    for batch in data_loader:
        data = distiller.data_preprocessor(batch, False)
        s, t = distiller.extract(data['inputs'], data['data_samples'])
        batch_costs = [channel_cost(a, b)
                       for a, b in zip(s['loss_mgd'], t['loss_mgd'])]
        costs = batch_costs if costs is None else [
            a + b for a, b in zip(costs, batch_costs)
        ]
    return [match_channels(c, mode) for c in costs]


@pytest.fixture(scope='module')
def distiller():
    return build_distiller()


def test_registered():
    assert HOOKS.get('MatchingGuidedHook') is MatchingGuidedHook


@pytest.mark.parametrize('reduction', ['amp', 'sm'])
def test_match_writes_the_optimal_assignment(reduction):
    model = build_distiller(reduction)
    loss = model.distill_losses['loss_mgd']
    identity = [loss.assignment(i).clone() for i in range(4)]
    hook = MatchingGuidedHook(interval=5)
    hook.before_train(fake_runner(model))
    assert loss.is_matched and int(loss.num_matchings) == 1
    mode = 'one_to_one' if reduction == 'sm' else 'many_to_one'
    expected = reference_assignment(copy.deepcopy(model), loader(), mode)
    for i in range(4):
        assert loss.assignment(i).tolist() == expected[i].tolist()
    # the real models' matching is not the placeholder
    assert any(not torch.equal(loss.assignment(i), identity[i])
               for i in range(4))
    assert len(hook.last_report['loss_mgd']) == 4
    assert all(0 <= v <= 4 for v in hook.last_report['loss_mgd'])


def test_num_images_limits_the_pass(distiller):
    seen = []
    original = distiller.extract

    def counting(inputs, *args, **kwargs):
        seen.append(inputs.shape[0])
        return original(inputs, *args, **kwargs)

    distiller.extract = counting
    try:
        MatchingGuidedHook(num_images=3).match(fake_runner(distiller))
    finally:
        del distiller.extract
    assert seen == [2, 2]  # stops at the batch that reaches 3 images


def test_configured_dataloader_is_built_once(distiller):
    built = []

    def build(cfg, seed=None):
        built.append(cfg)
        return loader()

    runner = fake_runner(distiller, build_dataloader=build)
    runner.val_loop = None
    hook = MatchingGuidedHook(dataloader=dict(dataset='anything'))
    hook.match(runner)
    hook.match(runner)
    assert built == [dict(dataset='anything')]


def test_needs_images_and_an_mgd_loss(distiller):
    runner = fake_runner(distiller)
    runner.val_loop = None
    with pytest.raises(ValueError, match='val_dataloader'):
        MatchingGuidedHook().match(runner)
    with pytest.raises(ValueError, match='loss_names'):
        MatchingGuidedHook(loss_names=['loss_kd']).before_train(
            fake_runner(distiller))
    with pytest.raises(ValueError, match='positive int'):
        MatchingGuidedHook(interval=0)
    with pytest.raises(TypeError, match='distiller'):
        MatchingGuidedHook().before_train(fake_runner(torch.nn.Linear(1, 1)))


# --------------------------------------------------------------------------
# schedule
# --------------------------------------------------------------------------
def record_matches(hook):
    calls = []
    hook.match = lambda runner: calls.append((runner.iter, runner.epoch))
    return calls


def test_schedule_by_iteration(distiller):
    hook = MatchingGuidedHook(interval=3)
    calls = record_matches(hook)
    runner = fake_runner(distiller, max_iters=10)
    for it in range(10):
        runner.iter = it
        hook.after_train_iter(runner, it)
        hook.after_train_epoch(runner)  # ignored when counting iterations
    # after 3, 6 and 9 iterations; never after the last (10th)
    assert [c[0] for c in calls] == [2, 5, 8]
    calls.clear()
    runner.max_iters = 9
    for it in range(9):
        runner.iter = it
        hook.after_train_iter(runner, it)
    assert [c[0] for c in calls] == [2, 5]


def test_schedule_by_epoch(distiller):
    hook = MatchingGuidedHook(interval=2, by_epoch=True)
    calls = record_matches(hook)
    runner = fake_runner(distiller, max_epochs=5)
    for epoch in range(5):
        runner.epoch = epoch
        for it in range(3):
            runner.iter = epoch * 3 + it
            hook.after_train_iter(runner, it)  # ignored by epoch
        hook.after_train_epoch(runner)
    assert [c[1] for c in calls] == [1, 3]


def test_before_train_matches_only_when_unmatched():
    model = build_distiller()
    hook = MatchingGuidedHook()
    calls = record_matches(hook)
    hook.before_train(fake_runner(model))
    assert len(calls) == 1
    loss = model.distill_losses['loss_mgd']
    loss.set_assignment([loss.assignment(i) for i in range(4)])
    hook.before_train(fake_runner(model))  # resumed: holds a matching
    assert len(calls) == 1
    off = MatchingGuidedHook(match_before_train=False)
    off_calls = record_matches(off)
    off.before_train(fake_runner(build_distiller()))
    assert not off_calls


def test_checkpoint_round_trip():
    model = build_distiller()
    MatchingGuidedHook().before_train(fake_runner(model))
    state = copy.deepcopy(model.state_dict())
    keys = [k for k in state if 'loss.assignment_' in k]
    assert len(keys) == 4 and not any(k.startswith('student.') for k in keys)
    resumed = build_distiller(seed=1)  # other weights, placeholder matching
    resumed.load_state_dict(state)
    loss = resumed.distill_losses['loss_mgd']
    original = model.distill_losses['loss_mgd']
    for i in range(4):
        assert torch.equal(loss.assignment(i), original.assignment(i))
    hook = MatchingGuidedHook()
    calls = record_matches(hook)
    hook.before_train(fake_runner(resumed))
    assert not calls  # continues with the checkpoint's assignment


# --------------------------------------------------------------------------
# the pass leaves training undisturbed
# --------------------------------------------------------------------------
def test_modes_and_bn_statistics_are_preserved():
    model = build_distiller()
    model.train()
    model.student.decode_head.eval()  # a mixed state must survive too
    loss = model.distill_losses['loss_mgd']
    modes = {n: m.training for n, m in model.named_modules()}
    skip = ('assignment_', 'matched', 'num_matchings')
    before = {
        k: v.clone()
        for k, v in model.state_dict().items() if not any(s in k for s in skip)
    }
    seen_modes = []
    bn = model.student.backbone.layer1[0].bn1
    handle = bn.register_forward_pre_hook(
        lambda m, args: seen_modes.append(m.training))
    try:
        MatchingGuidedHook().match(fake_runner(model))
    finally:
        handle.remove()
    assert seen_modes and not any(seen_modes)  # the pass ran in eval mode
    assert {n: m.training for n, m in model.named_modules()} == modes
    after = model.state_dict()
    for key, value in before.items():
        assert torch.equal(after[key], value), key
    assert any('running_mean' in k for k in before)
    assert loss.is_matched


def rng_states():
    return (torch.get_rng_state(), np.random.get_state()[1].copy(),
            random.getstate())


def same_rng(a, b):
    return torch.equal(a[0], b[0]) and np.array_equal(a[1],
                                                      b[1]) and a[2] == b[2]


def test_global_rng_is_preserved(distiller, monkeypatch):
    # a shuffled loader (draws from torch's RNG) over a dataset drawing
    # from numpy and Python RNGs
    def runner():
        return fake_runner(
            distiller, val_loader=loader(Images(noisy=True), shuffle=True))

    torch.manual_seed(3)
    np.random.seed(3)
    random.seed(3)
    before = rng_states()
    MatchingGuidedHook().match(runner())
    assert same_rng(rng_states(), before)
    # the check can fail: without the restore the pass moves every RNG
    monkeypatch.setattr(hook_module._RNGSnapshot, 'restore', lambda self: 0)
    MatchingGuidedHook().match(runner())
    after = rng_states()
    assert not torch.equal(after[0], before[0])
    assert not np.array_equal(after[1], before[1])
    assert after[2] != before[2]


def epoch_order(data_loader):
    return [b['inputs'][0].float().sum().item() for b in data_loader]


@pytest.mark.parametrize('restore', [True, False])
def test_training_loader_rng_is_preserved(distiller, monkeypatch, restore):
    """The training loader yields what it would have without the pass, even
    when the matching iterates that very loader (shared generator)."""
    if not restore:
        monkeypatch.setattr(hook_module._RNGSnapshot, 'restore',
                            lambda self: 0)
    dataset = Images(n=8, noisy=True)

    def make():
        return loader(
            dataset,
            shuffle=True,
            batch_size=1,
            generator=torch.Generator().manual_seed(7))

    train, reference = make(), make()
    assert epoch_order(train) == epoch_order(reference)
    runner = fake_runner(distiller, val_loader=train, train_loader=train)
    MatchingGuidedHook().match(runner)
    same = epoch_order(train) == epoch_order(reference)
    assert same is restore


# --------------------------------------------------------------------------
# distributed: 2 gloo processes on CPU
# --------------------------------------------------------------------------
def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _dist_worker(rank, world_size, port, out_dir):
    import torch.distributed as tdist
    from mmengine.registry import init_default_scope
    torch.set_num_threads(1)
    init_default_scope('mmkd')
    tdist.init_process_group(
        'gloo',
        init_method=f'tcp://127.0.0.1:{port}',
        rank=rank,
        world_size=world_size)
    try:
        # different weights and images on each rank: their local matchings
        # differ, the hook's must not
        model = build_distiller(seed=rank)
        dataset = Images(n=8, seed=0)
        sampler = DefaultSampler(dataset, shuffle=False)
        data = DataLoader(
            dataset, batch_size=2, sampler=sampler, collate_fn=pseudo_collate)
        local = reference_assignment(copy.deepcopy(model), data)
        MatchingGuidedHook().match(fake_runner(model, val_loader=data))
        loss = model.distill_losses['loss_mgd']
        torch.save(
            dict(
                matched=[loss.assignment(i).clone() for i in range(4)],
                local=[torch.from_numpy(a) for a in local],
                indices=list(iter(sampler))),
            osp.join(out_dir, f'rank{rank}.pt'))
    finally:
        tdist.destroy_process_group()


def test_two_gloo_processes_hold_the_same_assignment(tmp_path):
    import torch.multiprocessing as mp
    mp.spawn(
        _dist_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2,
        join=True)
    r0 = torch.load(str(tmp_path / 'rank0.pt'))
    r1 = torch.load(str(tmp_path / 'rank1.pt'))
    assert set(r0['indices']).isdisjoint(r1['indices'])  # own shards
    for a, b in zip(r0['matched'], r1['matched']):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b)
               for a, b in zip(r0['local'], r1['local']))


# --------------------------------------------------------------------------
# a few distillation steps through tools/train.py, then resume
# --------------------------------------------------------------------------
def train_config(data_root):
    from mmkd.datasets import SYNTHETIC_CLASSES, SYNTHETIC_PALETTE

    def dataset(split, pipeline):
        return dict(
            type='BaseSegDataset',
            data_root=data_root,
            data_prefix=dict(
                img_path='JPEGImages', seg_map_path='SegmentationClass'),
            ann_file=f'ImageSets/Segmentation/{split}.txt',
            img_suffix='.jpg',
            seg_map_suffix='.png',
            metainfo=dict(
                classes=SYNTHETIC_CLASSES, palette=SYNTHETIC_PALETTE),
            pipeline=pipeline)

    load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]
    test_loader = dict(
        batch_size=1,
        num_workers=0,
        sampler=dict(type='DefaultSampler', shuffle=False),
        dataset=dataset('val', load + [dict(type='PackSegInputs')]))

    def tiny(base, head):
        cfg = tiny_deeplabv3(base, head, len(SYNTHETIC_CLASSES))
        cfg['data_preprocessor']['size'] = (64, 64)
        return cfg

    student = tiny(8, 16)
    return dict(
        default_scope='mmkd',
        env_cfg=dict(
            cudnn_benchmark=False,
            mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
            dist_cfg=dict(backend='gloo')),
        randomness=dict(seed=0),
        log_processor=dict(by_epoch=False),
        log_level='INFO',
        load_from=None,
        resume=False,
        train_dataloader=dict(
            batch_size=2,
            num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            dataset=dataset(
                'train', load + [
                    dict(type='RandomFlip', prob=0.5),
                    dict(type='PackSegInputs')
                ])),
        val_dataloader=test_loader,
        test_dataloader=test_loader,
        val_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        test_evaluator=dict(type='IoUMetric', iou_metrics=['mIoU']),
        optim_wrapper=dict(
            type='OptimWrapper',
            optimizer=dict(type='SGD', lr=0.01, momentum=0.9)),
        train_cfg=dict(
            type='IterBasedTrainLoop', max_iters=6, val_interval=100),
        val_cfg=dict(type='ValLoop'),
        test_cfg=dict(type='TestLoop'),
        default_hooks=dict(
            timer=dict(type='IterTimerHook'),
            logger=dict(
                type='LoggerHook', interval=1, log_metric_by_epoch=False),
            checkpoint=dict(
                type='CheckpointHook', by_epoch=False, interval=2)),
        model=dict(
            type='SegDistiller',
            student=student,
            teacher=tiny(16, 32),
            data_preprocessor=copy.deepcopy(student['data_preprocessor']),
            distill=[mgd_item('amp')]),
        custom_hooks=[dict(type='MatchingGuidedHook', interval=2)])


def run(args):
    proc = subprocess.run([sys.executable, *args], cwd=ROOT,
                          capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    return out


def test_train_py_distils_matches_and_resumes(tmp_path):
    from mmengine.config import Config

    from mmkd.datasets import generate_synthetic_voc
    data_root = generate_synthetic_voc(
        str(tmp_path / 'data'), num_train=6, num_val=3, img_size=64, seed=1)
    config = str(tmp_path / 'mgd.py')
    Config(train_config(data_root)).dump(config)
    work_dir = str(tmp_path / 'work')
    out = run(['tools/train.py', config, '--work-dir', work_dir,
               '--cfg-options', 'train_cfg.max_iters=4'])
    assert 'distill.loss_mgd: ' in out
    # before training, and after iteration 2; not after the last (4th)
    assert len(re.findall(r'MatchingGuidedHook: matched on 3 images',
                          out)) == 2
    ckpt = torch.load(osp.join(work_dir, 'iter_4.pth'), map_location='cpu',
                      weights_only=False)
    state = ckpt['state_dict']
    prefix = 'distill_items.0.loss.'
    assert bool(state[prefix + 'matched'])
    assert int(state[prefix + 'num_matchings']) == 2
    assert state[prefix + 'assignment_3'].shape == (2, 64)
    out = run(['tools/train.py', config, '--work-dir', work_dir,
               '--resume'])
    assert 'resumed epoch: 0, iter: 4' in out
    assert 'the losses already hold a matching' in out
    assert 'matched on' not in out
    final = torch.load(osp.join(work_dir, 'iter_6.pth'), map_location='cpu',
                       weights_only=False)['state_dict']
    for i in range(4):
        key = f'{prefix}assignment_{i}'
        assert torch.equal(final[key], state[key])
    assert os.path.isfile(osp.join(work_dir, 'iter_6.pth'))
