"""The efficacy protocol's pieces: CKA, the weight rule, the pretext, any
VOC-layout dataset, and the benchmark end to end on a tiny dataset."""
import hashlib
import json
import math
import os
import os.path as osp
import re
import shutil

import numpy as np
import pytest
import torch

from mmkd.apis.efficacy_cka import feature_rows, icc_mean_share, linear_cka
from mmkd.apis.efficacy_data import (apply_dataset, check_predictions,
                                     class_weights, inspect_voc,
                                     repeat_factor_split)
from mmkd.apis.pretext import (extract_object_crops, pretext_backbone,
                               set_pretrained)
from mmkd.apis.quickstart_config import parse_iters, stage_config
from mmkd.datasets.synthetic_voc import generate_synthetic_voc

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_linear_cka_by_hand():
    # X: 4 points on the axes (centred); Y: its first coordinate.
    # X^T X = 2 I, Y^T Y = 2, Y^T X = [2, 0]:
    # CKA = 4 / (||2 I||_F * 2) = 4 / (2 sqrt(2) * 2) = 1 / sqrt(2)
    x = torch.tensor([[1., 0.], [0., 1.], [-1., 0.], [0., -1.]])
    assert linear_cka(x, x[:, :1]) == pytest.approx(1 / math.sqrt(2))
    g = torch.Generator().manual_seed(0)
    a = torch.randn(200, 6, generator=g)
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=g))
    # invariant to an orthogonal map, a scale and a shift
    assert linear_cka(a, 3 * a @ q + 1) == pytest.approx(1.0)
    # independent features: near 0
    assert linear_cka(a, torch.randn(200, 4, generator=g)) < 0.15
    with pytest.raises(ValueError):
        linear_cka(a, a[:10])
    # pixels as rows
    assert feature_rows(torch.zeros(2, 3, 4, 5)).shape == (40, 3)
    assert feature_rows(torch.zeros(2, 3, 1, 1)).shape == (2, 3)


def test_icc_mean_share_by_hand():
    # one cell, F = [[1, 3], [1, -1]] (C=2, P=2): m = [2, 0],
    # G = [[10, -2], [-2, 2]] -> ||G||^2 = 112; M = 2 m m^T = [[8, 0], [0, 0]]
    # -> 64; share = 64 / 112 = 4 / 7
    x = torch.tensor([[1., 3.], [1., -1.]]).reshape(1, 2, 1, 2)
    assert icc_mean_share(x, 1) == pytest.approx(4 / 7)
    # one pixel per cell: G = f f^T = M, share 1; an all-zero cell is left
    # out of the mean instead of giving NaN
    y = torch.tensor([[[1., 2.], [0., 3.]], [[2., 1.], [0., -1.]]])[None]
    assert icc_mean_share(y, 2) == pytest.approx(1.0)
    # zero-mean channels in every cell: the means explain nothing
    z = torch.randn(2, 4, 4, 4)
    assert icc_mean_share(z - z.mean((2, 3), keepdim=True), 1) == \
        pytest.approx(0.0, abs=1e-12)
    # non-negative (post-ReLU) features are mean-dominated, signed ones not
    g = torch.Generator().manual_seed(0)
    r = torch.randn(4, 16, 8, 8, generator=g)
    assert icc_mean_share(r.relu(), 1) > 0.5 > 0.1 > icc_mean_share(r, 1)
    assert math.isnan(icc_mean_share(torch.zeros(1, 2, 2, 2), 1))
    with pytest.raises(ValueError, match='B x C x H x W'):
        icc_mean_share(torch.zeros(2, 3), 1)
    with pytest.raises(ValueError, match='grid 3'):
        icc_mean_share(torch.zeros(1, 2, 2, 2), 3)


def test_class_weights_and_one_class_check():
    w = class_weights([900, 90, 10, 0])
    assert w[0] < w[1] < w[2] <= w[3] == 10.0
    # average weight per training pixel is 1 (before clipping)
    assert np.dot(w[:3], [0.9, 0.09, 0.01]) == pytest.approx(1.0, abs=1e-3)
    with pytest.warns(UserWarning, match='one class'):
        assert check_predictions(dict(mAcc=10.2), 10, 'm') is not None
    assert check_predictions(dict(mAcc=40.0), 10, 'm') is None


@pytest.fixture(scope='module')
def other_voc(tmp_path_factory):
    """A tiny dataset with 4 classes in another layout root: no VOC2012
    folder, no meta.json, names in classes.txt."""
    tmp = tmp_path_factory.mktemp('other')
    src = generate_synthetic_voc(str(tmp / 'gen'), num_train=12, num_val=6,
                                 img_size=48, num_classes=4, seed=3,
                                 layout='large')
    dst = tmp / 'my_dataset'
    shutil.copytree(src, dst)
    os.remove(dst / 'meta.json')
    (dst / 'classes.txt').write_text('bg\nround\nhoop\ntri\n')
    return str(dst)


def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for f in sorted(files):
            path = osp.join(dirpath, f)
            h.update(path.encode())
            with open(path, 'rb') as fh:
                h.update(fh.read())
    return h.hexdigest()


def test_inspect_and_fit_another_dataset(other_voc, tmp_path):
    info = inspect_voc(other_voc)
    assert info['num_classes'] == 4
    assert info['classes'] == ['bg', 'round', 'hoop', 'tri']
    assert info['num_train'] == 12 and len(info['pixel_counts']) == 4
    info['train_list'] = repeat_factor_split(other_voc,
                                             str(tmp_path / 'train.txt'))
    ids = (tmp_path / 'train.txt').read_text().split()
    assert len(ids) >= 12 and set(ids) <= {f'train_{i:06d}'
                                           for i in range(12)}
    cfg = stage_config('kd', data_root=other_voc, work_dir='w',
                       teacher_checkpoint='t.pth', dataset_info=info,
                       pretrained=dict(student='s.pth', teacher='t0.pth'))
    for net in (cfg.model.student, cfg.model.teacher):
        assert net.decode_head.num_classes == 4
        assert net.auxiliary_head.num_classes == 4
    assert cfg.model.student.backbone.init_cfg.checkpoint == 's.pth'
    assert cfg.train_dataloader.dataset.ann_file == info['train_list']
    assert list(cfg.val_dataloader.dataset.metainfo.classes) == info[
        'classes']
    balanced = stage_config('baseline', data_root=other_voc, work_dir='w')
    apply_dataset(balanced, info, balance=True)
    assert len(balanced.model.decode_head.loss_decode.class_weight) == 4
    model = dict(backbone=dict(type='ResNetV1c'), pretrained='x')
    set_pretrained(model, 'p.pth')
    assert model['pretrained'] is None
    assert model['backbone']['init_cfg']['checkpoint'] == 'p.pth'


def test_pretext_crops_training_and_cache(other_voc, tmp_path):
    crops, labels = extract_object_crops(other_voc, 4, crop_size=16)
    assert crops.shape[1:] == (16, 16, 3) and crops.dtype == np.uint8
    assert set(labels.tolist()) <= {0, 1, 2, 3} and 0 in labels
    assert len(set(labels.tolist())) >= 3
    backbone = dict(type='ResNetV1c', depth=18, stem_channels=8,
                    base_channels=8, num_stages=4, out_indices=(3, ),
                    strides=(1, 2, 1, 1), dilations=(1, 1, 2, 4),
                    norm_cfg=dict(type='BN'), contract_dilation=True)
    kw = dict(backbone_cfg=backbone, num_classes=4,
              cache_dir=str(tmp_path / 'pre'), mean=[0, 0, 0],
              std=[255, 255, 255],
              recipe=dict(iters=2, batch_size=8, crop_size=16), log=None)
    rec = pretext_backbone(other_voc, **kw)
    assert not rec['cached'] and osp.isfile(rec['checkpoint'])
    state = torch.load(rec['checkpoint'], weights_only=True)['state_dict']
    assert 'conv1.weight' in state or 'stem.0.weight' in state
    again = pretext_backbone(other_voc, **kw)
    assert again['cached'] and again['checkpoint'] == rec['checkpoint']
    kw['recipe'] = dict(kw['recipe'], iters=3)
    assert not pretext_backbone(other_voc, **kw)['cached']


def test_weight_rule_sets_the_gradient_ratio(other_voc, tmp_path):
    from mmkd.apis.efficacy_weights import (apply_weight_rule,
                                            measure_grad_ratio)
    from mmkd.apis.quickstart_protocol import prepare_protocol
    proto = prepare_protocol(str(tmp_path / 'proto'), voc_dir=other_voc,
                             iters=parse_iters('teacher=1,pretext=1'),
                             log=lambda *a: None)
    cfg = stage_config('kd', data_root=other_voc, work_dir='w',
                       teacher_checkpoint=proto.teacher.checkpoint,
                       pretrained=proto.pretrained, dataset_info=proto.info)
    cfg.distill_weight_rule = dict(grad_ratio=0.3, batches=1)
    rule = apply_weight_rule(cfg, log=None)
    assert rule['grad_ratio'] == 0.3
    after = measure_grad_ratio(cfg, batches=1)
    assert after['distill'] / after['task'] == pytest.approx(0.3, rel=1e-4)
    assert cfg.model.distill[0].loss.loss_weight == pytest.approx(
        rule['weights']['loss_kd'])
    plain = stage_config('baseline', data_root=other_voc, work_dir='w')
    assert apply_weight_rule(plain) is None

    # balance_items: two items on different layers, equal gradient norms
    # at the start, their sum at the ratio
    two = stage_config('ickd8_2l', data_root=other_voc, work_dir='w',
                       teacher_checkpoint=proto.teacher.checkpoint,
                       pretrained=proto.pretrained, dataset_info=proto.info)
    two.distill_weight_rule = dict(grad_ratio=0.3, batches=1)
    unbalanced = measure_grad_ratio(two, batches=1)
    a, b = unbalanced['distill.loss_ickd'], unbalanced[
        'distill.loss_ickd_layer4']
    assert not a / b == pytest.approx(1.0, rel=0.1)  # the test can fail
    two.distill_weight_rule['balance_items'] = True
    rule = apply_weight_rule(two, log=None)
    after = measure_grad_ratio(two, batches=1)
    assert after['distill'] / after['task'] == pytest.approx(0.3, rel=1e-4)
    assert after['distill.loss_ickd'] == pytest.approx(
        after['distill.loss_ickd_layer4'], rel=1e-4)
    assert set(rule['weights']) == {'loss_ickd', 'loss_ickd_layer4'}
    two.model.distill[1].loss.loss_weight = 0.0
    with pytest.raises(RuntimeError, match="'loss_ickd_layer4' gives no "
                       'gradient'):
        apply_weight_rule(two, log=None)


def test_weight_rule_probes_mgd_after_matching(other_voc):
    """The rule measures MGD with the assignment it trains with: the
    probe solves the matching on the hook's (training) images first."""
    from mmengine.registry import DefaultScope

    from mmkd.apis.efficacy_weights import match_for_probe
    from mmkd.registry import MODELS
    info = inspect_voc(other_voc)
    cfg = stage_config('mgd_sm', data_root=other_voc, work_dir='w',
                       teacher_checkpoint='t.pth', dataset_info=info)
    cfg.model.teacher_checkpoint = None
    cfg.custom_hooks[-1].num_images = 5
    hook_ds = cfg.custom_hooks[-1].dataloader.dataset
    assert hook_ds.data_root == other_voc
    assert list(hook_ds.metainfo.classes) == info['classes']
    with DefaultScope.overwrite_default_scope('mmkd'):
        model = MODELS.build(cfg.model)
    loss = model.distill_losses['loss_mgd']
    assert not loss.is_matched
    before = {n: m.training for n, m in model.named_modules()}
    report = match_for_probe(model, cfg)
    assert 'matched on 5 images' in report
    assert loss.is_matched and int(loss.num_matchings) == 1
    assert {n: m.training for n, m in model.named_modules()} == before
    for i, (cs, ct) in enumerate(zip(loss.student_channels,
                                     loss.teacher_channels)):
        row = loss.assignment(i)[0]  # SM: one teacher channel each
        assert len(set(row.tolist())) == cs and int(row.max()) < ct
    kd = stage_config('kd', data_root=other_voc, work_dir='w',
                      teacher_checkpoint='t.pth')
    assert match_for_probe(model, kd) is None  # no MGD hook: nothing to do


def test_benchmark_on_another_dataset(other_voc, tmp_path, capsys):
    """--data-root on a VOC-layout dataset with 4 classes: the whole
    protocol runs, reads the classes, writes the table and plots, and
    leaves the dataset untouched."""
    import sys
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import benchmark_efficacy
    before = _digest(other_voc)
    out = tmp_path / 'eff'
    benchmark_efficacy.main([
        '--data-root', other_voc, '--work-dir', str(out), '--seeds', '0',
        '--methods', 'kd', '--jobs', '1', '--iters',
        'teacher=2,student=2,pretext=2'
    ])
    assert _digest(other_voc) == before
    # student=2 is not the configs' schedule: its runs and reports have
    # their own dir, beside (never over) the default schedule's
    assert not (out / 'efficacy.md').exists()
    rep = out / 'student2'
    text = (rep / 'efficacy.md').read_text()
    assert '4 classes' in text and '| KD |' in text
    data = json.loads((rep / 'efficacy.json').read_text())
    kd = next(r for r in data['records'] if r['stage'] == 'kd')
    assert kd['weight_rule']['weights']['loss_kd'] > 0
    assert kd['grad_ratio'] and 'ratio' in kd['grad_ratio'][0]
    cka = kd['cka']['after']['loss_kd']
    assert 0 <= cka['raw'] <= 1 and 0 <= cka['transformed'] <= 1
    assert data['info']['classes'] == ['bg', 'round', 'hoop', 'tri']
    # KD distils logits: its target's statistics, against the student alone
    target = data['logit_targets']['kd']['loss_kd']
    assert target['tau'] == 1.0 and target['teacher']['pixels'] > 0
    assert target['teacher']['label_mass'] <= target['teacher']['top_mass']
    assert set(target) == {'tau', 'teacher', 'alone', 'distilled'}
    assert target['alone'] != target['distilled']  # two checkpoints read
    assert 'Logit targets (' in text and '| kd | loss_kd | 1 |' in text
    # per-class IoU, evaluated again from each checkpoint: its class mean
    # is the mIoU mmseg's evaluator logged at the end of training
    classes = data['class_iou']
    assert set(classes['teacher']) == {'bg', 'round', 'hoop', 'tri'}
    for r in data['records']:
        iou = classes['runs'][r['stage']][str(r['seed'])]
        assert np.nanmean(list(iou.values())) == pytest.approx(
            r['metrics']['mIoU'], abs=0.006)
    assert 'Per-class IoU on val' in text and '| KD |' in text.split(
        'Per-class IoU on val')[1]
    for name in ('efficacy_miou.png', 'efficacy_cka.png',
                 'efficacy_grad_ratio.png'):
        with open(rep / name, 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    # --probe-losses: the rule's measurement, no training
    benchmark_efficacy.main([
        '--data-root', other_voc, '--work-dir', str(out), '--methods', 'dlkd',
        'irg_r4', '--iters', 'teacher=2,student=2,pretext=2', '--probe-losses'
    ])
    probed = capsys.readouterr().out
    assert re.search(r'loss_dlkd_align [\d.e+-]+ \(norm [\d.e+-]+\)', probed)
    # irg_r4 balances its items: weight x own norm equal for both items
    row = next(line for line in probed.splitlines()
               if line.startswith('| irg_r4 |'))
    pairs = [(float(w), float(n)) for w, n in re.findall(
        r'loss_irg_\w+ ([\d.e+-]+) \(norm ([\d.e+-]+)\)', row)]
    assert len(pairs) == 2 and pairs[0][1] != pairs[1][1]
    assert pairs[0][0] * pairs[0][1] == pytest.approx(
        pairs[1][0] * pairs[1][1], rel=2e-3)
    # --sweep-ratios: the protocol again on the held-out view, a table of
    # held-out mIoU per ratio and the chosen one; the dataset untouched
    benchmark_efficacy.main([
        '--data-root', other_voc, '--work-dir', str(out), '--methods', 'kd',
        '--seeds', '0', '--jobs', '1', '--iters',
        'teacher=2,student=2,pretext=2', '--sweep-ratios', '0.5', '2',
        '--holdout-fraction', '0.25'
    ])
    text = (out / 'sweep' / 'student2' / 'sweep_kd.md').read_text()
    assert '| kd | 0.5 |' in text and '| kd | 2 |' in text
    assert re.search(r'Chosen: kd grad_ratio=(0\.5|2)\n', text), text
    assert (out / 'sweep' / 'protocol' / 'teacher').is_dir()
    assert _digest(other_voc) == before
    # a sweep run again reuses its finished runs (the student alone and
    # kd at 0.5), keyed like the table's
    capsys.readouterr()
    benchmark_efficacy.main([
        '--data-root', other_voc, '--work-dir', str(out), '--methods', 'kd',
        '--seeds', '0', '--jobs', '1', '--iters',
        'teacher=2,student=2,pretext=2', '--sweep-ratios', '0.5',
        '--holdout-fraction', '0.25'
    ])
    assert '2 runs done before, 0 to train' in capsys.readouterr().out


@pytest.fixture(scope='module')
def varied_voc(tmp_path_factory):
    """A VOC-layout dataset whose images vary in size, as Pascal VOC's do:
    every other image (and its label) resized to a non-square size."""
    from PIL import Image
    tmp = tmp_path_factory.mktemp('varied')
    src = generate_synthetic_voc(str(tmp / 'gen'), num_train=12, num_val=6,
                                 img_size=48, seed=4)
    dst = tmp / 'VOC2012'
    shutil.copytree(src, dst)
    os.remove(dst / 'meta.json')
    names = sorted(os.listdir(dst / 'JPEGImages'))
    for i, name in enumerate(names[::2]):
        size = (64, 40) if i % 2 else (36, 56)
        img = dst / 'JPEGImages' / name
        Image.open(img).resize(size, Image.BILINEAR).save(img)
        seg = dst / 'SegmentationClass' / name.replace('.jpg', '.png')
        Image.open(seg).resize(size, Image.NEAREST).save(seg)
    return str(dst)


def test_images_of_varied_sizes(varied_voc, other_voc, tmp_path):
    """Images of several sizes (Pascal VOC's case): evaluation batches hold
    one image (mmseg stacks one size only), the diagnostics batch by size,
    and the whole protocol runs."""
    import sys
    info = inspect_voc(varied_voc)
    assert info['image_sizes_vary'] is True
    assert 'image_sizes_vary' not in inspect_voc(other_voc)
    cfg = stage_config('mgd_amp', data_root=varied_voc, work_dir='w',
                       teacher_checkpoint='t.pth', dataset_info=info)
    hook = next(h for h in cfg.custom_hooks if 'dataloader' in h)
    assert (cfg.val_dataloader.batch_size, cfg.test_dataloader.batch_size,
            hook['dataloader']['batch_size']) == (1, 1, 1)
    assert cfg.train_dataloader.batch_size == 8  # random crops: one size
    fixed = stage_config('mgd_amp', data_root=other_voc, work_dir='w',
                         teacher_checkpoint='t.pth',
                         dataset_info=inspect_voc(other_voc))
    assert fixed.val_dataloader.batch_size == 16

    sys.path.insert(0, osp.join(REPO, 'tools'))
    import benchmark_efficacy
    out = tmp_path / 'eff'
    benchmark_efficacy.main([
        '--data-root', varied_voc, '--work-dir', str(out), '--seeds', '0',
        '--methods', 'kd', 'mgd_amp', '--jobs', '1', '--iters',
        'teacher=2,student=2,pretext=2'])
    data = json.loads((out / 'student2' / 'efficacy.json').read_text())
    stages = {r['stage']: r for r in data['records']}
    assert set(stages) == {'baseline', 'kd', 'mgd_amp'}
    assert stages['mgd_amp']['cka']['after']  # CKA on images of all sizes
    assert data['logit_targets']['kd']['loss_kd']['teacher']['pixels'] > 0


def test_table_says_n_a_for_two_std_on_one_seed():
    """'> 2 std' needs a spread: with one seed it is 'n/a', not 'yes'."""
    from mmkd.apis.efficacy import format_table, summarize

    def rec(stage, seed, miou):
        return dict(stage=stage, seed=seed, metrics=dict(mIoU=miou),
                    train_time_s=10.0, weight_rule=None, cka=None,
                    grad_ratio=None)

    one = [rec('baseline', 0, 40.0), rec('kd', 0, 41.0)]
    rows = summarize(one, 60.0, ['kd'], [0])
    assert rows[-1]['beats_2std'] is None
    assert '| KD | 41.00 ± 0.00 | +1.00 | n/a | +5% |' in format_table(
        rows, [0])
    three = [rec('baseline', s, 40.0 + s) for s in range(3)] + [
        rec('kd', s, v) for s, v in enumerate((45.0, 46.0, 47.0))]
    rows = summarize(three, 60.0, ['kd'], [0, 1, 2])
    assert rows[-1]['beats_2std'] is True  # +5 > 2 x 1.0
    assert '| +5.00 | yes |' in format_table(rows, [0, 1, 2])
    close = three[:3] + [rec('kd', s, v)
                         for s, v in enumerate((41.0, 42.0, 43.0))]
    assert summarize(close, 60.0, ['kd'], [0, 1, 2])[-1][
        'beats_2std'] is False  # +1 < 2 x 1.0


def test_schedule_dir_keeps_other_schedules_apart():
    """A longer student schedule trains in its own dir, never over the
    cached runs of the configs' schedule (whose dir is the root)."""
    from mmkd.apis.efficacy import schedule_dir
    assert schedule_dir('/w', None) == '/w'
    assert schedule_dir('/w', parse_iters(None)) == '/w'
    assert schedule_dir('/w', parse_iters('teacher=100')) == '/w'
    assert schedule_dir('/w', parse_iters('student=3600')) == \
        osp.join('/w', 'student3600')
    assert schedule_dir('/w', parse_iters('2x')) == \
        osp.join('/w', 'student-x2')
    assert schedule_dir('/w', parse_iters(dict(scale=0.5, student=300))) == \
        osp.join('/w', 'student300')


def test_holdout_sweep_never_reads_val(other_voc, tmp_path):
    """The weight sweep's data: a VOC-layout view whose val split is a
    fixed held-out part of the *training* images and whose train split is
    the rest (what pretext, teacher and students train on), the dataset
    untouched; its runs take the swept ratio; the best ratio is picked per
    method."""
    from types import SimpleNamespace

    from mmkd.apis.efficacy_sweep import (best_ratios, holdout_dataset,
                                          sweep_table, sweep_tasks)
    from mmkd.apis.pretext import read_split
    before = _digest(other_voc)
    view = holdout_dataset(other_voc, str(tmp_path / 'view'), 0.25,
                           classes=['bg', 'round', 'hoop', 'tri'])
    again = holdout_dataset(other_voc, str(tmp_path / 'again'), 0.25)
    held, train = read_split(view, 'val'), read_split(view, 'train')
    assert held == read_split(again, 'val')  # a fixed draw
    # another seed draws other images (--holdout-seed)
    other = holdout_dataset(other_voc, str(tmp_path / 'draw1'), 0.25,
                            seed=1)
    assert read_split(other, 'val') != held
    assert sorted(read_split(other, 'val') + read_split(other, 'train')) \
        == sorted(read_split(other_voc, 'train'))
    assert len(held) == 3  # 0.25 of 12
    assert sorted(held + train) == sorted(read_split(other_voc, 'train'))
    assert not set(held) & set(read_split(other_voc, 'val'))
    info = inspect_voc(view)  # readable as any VOC-layout dataset
    assert info['classes'] == ['bg', 'round', 'hoop', 'tri']
    assert (info['num_train'], info['num_val']) == (9, 3)
    assert _digest(other_voc) == before
    with pytest.raises(ValueError, match='fraction'):
        holdout_dataset(other_voc, str(tmp_path / 'bad'), 1.0)

    proto = SimpleNamespace(voc_dir=view, info=info)
    tasks = sweep_tasks(proto, str(tmp_path / 'w'), ['kd'], [0.5, 4], [0],
                        dict(scale=1.0, teacher=None, student=2,
                             pretext=None))
    assert [(t['stage'], t['grad_ratio']) for t in tasks] == [
        ('baseline', None), ('kd', 0.5), ('kd', 4.0)]
    assert tasks[-1]['work_dir'].endswith('sweep/kd/ratio4/seed0')
    tasks = sweep_tasks(proto, str(tmp_path / 'w'), ['kd'], [4], [0],
                        dict(scale=1.0, teacher=None, student=2,
                             pretext=None), subdir='sweep_draw1')
    assert tasks[-1]['work_dir'].endswith('sweep_draw1/kd/ratio4/seed0')

    def rec(stage, ratio, miou):
        return dict(stage=stage, seed=0, grad_ratio_override=ratio,
                    metrics=dict(mIoU=miou))

    records = [rec('baseline', None, 40.0), rec('kd', 0.5, 41.0),
               rec('kd', 4.0, 43.0), rec('at', 0.5, 42.0),
               rec('at', 4.0, 39.0)]
    assert best_ratios(records) == {'kd': 4.0, 'at': 0.5}
    table = sweep_table(records)
    assert '| kd | 4 | 43.00 | 43.00 | +3.00 | **yes** |' in table
    assert '| at | 4 | 39.00 | 39.00 | -1.00 |  |' in table
