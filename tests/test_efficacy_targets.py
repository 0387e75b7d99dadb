"""What a logit target says beyond the labels: values by hand, errors,
degenerate inputs, and the measurement against a direct forward pass."""
import math

import pytest
import torch

from mmkd.apis.efficacy_targets import (_train_images, format_targets,
                                        logit_items, logit_target_stats,
                                        measure_logit_targets,
                                        merge_target_stats)

LN3 = math.log(3.0)
# p = (3/4, 1/4): entropy -(3/4 ln 3/4 + 1/4 ln 1/4)
H = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))


def _two_pixels():
    # pixel 0: p = (3/4, 1/4), label 0 (agrees); pixel 1: p = (1/4, 3/4),
    # label 0 (does not); pixel 2 ignored
    logits = torch.tensor([[LN3, 0.0, 5.0], [0.0, LN3, -5.0]])[None, :, None]
    labels = torch.tensor([[0, 0, 255]])[:, None]
    return logits, labels  # 1 x 2 x 1 x 3, 1 x 1 x 3


def test_stats_by_hand():
    logits, labels = _two_pixels()
    s = logit_target_stats(logits, labels)
    assert s['pixels'] == 2
    assert s['top_mass'] == pytest.approx(0.75)
    assert s['label_mass'] == pytest.approx((0.75 + 0.25) / 2)
    assert s['agree'] == pytest.approx(0.5)
    assert s['entropy'] == pytest.approx(H)
    # tau 2: p_0 = sqrt(3) / (sqrt(3) + 1) on pixel 0
    s2 = logit_target_stats(logits, labels, tau=2.0)
    p = math.sqrt(3) / (math.sqrt(3) + 1)
    assert s2['top_mass'] == pytest.approx(p)
    assert s2['label_mass'] == pytest.approx(0.5)
    assert s2['entropy'] > s['entropy']  # softer
    # a reference (the teacher) choosing class 1 on both pixels: the
    # logits' argmax (0, 1) agrees on pixel 1 only
    ref = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])[None, :, None]
    s3 = logit_target_stats(logits, labels, reference=ref)
    assert s3['agree_ref'] == pytest.approx(0.5)
    assert 'agree_ref' not in s
    assert merge_target_stats([s3, s3])['agree_ref'] == pytest.approx(0.5)


def test_labels_resized_to_the_logits_and_merged_by_pixels():
    logits, labels = _two_pixels()
    # labels at twice the resolution: nearest picks the same classes
    big = labels.repeat_interleave(2, dim=-1).repeat(1, 2, 1)  # 1 x 2 x 6
    assert logit_target_stats(logits, big) == logit_target_stats(
        logits, labels)
    a = logit_target_stats(logits, labels)  # 2 pixels, agree 1/2
    b = logit_target_stats(logits[..., :1], labels[..., :1])  # 1, agree 1
    m = merge_target_stats([a, b, logit_target_stats(
        logits[..., 2:], labels[..., 2:])])  # + 0 pixels: left out
    assert m['pixels'] == 3
    assert m['agree'] == pytest.approx(2 / 3)
    assert m['top_mass'] == pytest.approx(0.75)


def test_degenerate_inputs_never_nan_where_pixels_exist():
    logits = torch.tensor([[1e4, -1e4]])[:, :, None, None]  # one-hot
    s = logit_target_stats(logits, torch.zeros(1, 1, 1, dtype=torch.long))
    assert s['top_mass'] == 1.0 and s['entropy'] == pytest.approx(0.0)
    assert not any(math.isnan(v) for v in s.values())
    none = logit_target_stats(logits, torch.full((1, 1, 1), 255))
    assert none['pixels'] == 0 and math.isnan(none['agree'])
    assert merge_target_stats([none])['pixels'] == 0


def test_errors_name_the_problem():
    logits, labels = _two_pixels()
    with pytest.raises(ValueError, match='B x C x h x w'):
        logit_target_stats(logits[0], labels)
    with pytest.raises(ValueError, match='B x H x W with B = 1'):
        logit_target_stats(logits, labels.repeat(2, 1, 1))
    with pytest.raises(ValueError, match="reference must be B x C' x h x w"):
        logit_target_stats(logits, labels, reference=logits[..., :2])
    with pytest.raises(ValueError, match='tau must be > 0'):
        logit_target_stats(logits, labels, tau=0.0)
    with pytest.raises(ValueError, match=r"\[7\].*2 classes.*ignore_index"):
        logit_target_stats(logits, torch.tensor([[[0, 7, 255]]]))


def test_logit_items_reads_the_configs():
    from mmkd.apis.quickstart_config import stage_config
    kw = dict(data_root='data/x', work_dir='w', teacher_checkpoint='t.pth')
    assert logit_items(stage_config('kd', **kw)) == {'loss_kd': 1.0}
    assert logit_items(stage_config('kd_t4', **kw)) == {'loss_kd': 4.0}
    assert logit_items(stage_config('at', **kw)) == {}
    # items whose sides are lists of features (MGD; IRG's transformation
    # term beside its vertex term on the logits) are not logit items
    assert logit_items(stage_config('mgd_amp', **kw)) == {}
    assert logit_items(stage_config('irg_3t', **kw)) == {
        'loss_irg_vertex': 1.0}
    assert format_targets({}) == ''


def test_measure_matches_a_direct_forward(tmp_path, capfd):
    """The measurement reads the teacher's logits on the *training* images
    with their labels: the same numbers as the teacher run by hand; and it
    does not print every parameter's init on the console."""
    from mmengine.dataset import pseudo_collate
    from mmengine.logging import MMLogger
    from mmengine.registry import DefaultScope

    from mmkd.apis.efficacy_cka import _model
    from mmkd.apis.efficacy_data import inspect_voc
    from mmkd.apis.quickstart_config import stage_config
    from mmkd.datasets.synthetic_voc import generate_synthetic_voc
    from mmkd.registry import DATASETS
    root = generate_synthetic_voc(str(tmp_path / 'voc'), num_train=5,
                                  num_val=2, img_size=48, seed=1)
    cfg = stage_config('kd', data_root=root, work_dir=str(tmp_path / 'w'),
                       teacher_checkpoint='', dataset_info=inspect_voc(root))
    cfg.model.teacher_checkpoint = None  # a random teacher
    ds_cfg = _train_images(cfg)
    assert ds_cfg.ann_file.endswith('train.txt')
    assert ds_cfg.pipeline == cfg.val_dataloader.dataset.pipeline
    # a current logger without a log file, as in tools/benchmark_efficacy.py
    MMLogger.get_instance('test_efficacy_targets', log_level='INFO')
    capfd.readouterr()
    got = measure_logit_targets(cfg, max_images=4)
    assert 'torch.Size([' not in ''.join(capfd.readouterr())
    assert set(got) == {'loss_kd'} and got['loss_kd']['tau'] == 1.0

    model = _model(cfg, None, 0)
    with DefaultScope.overwrite_default_scope('mmkd'):
        ds = DATASETS.build(ds_cfg)
        data = model.data_preprocessor(
            pseudo_collate([ds[i] for i in range(4)]), False)
    labels = torch.stack([d.gt_sem_seg.data for d in data['data_samples']])
    with torch.no_grad():
        for side, net in (('teacher', model.teacher),
                          ('student', model.student)):
            logits = net.decode_head(net.extract_feat(data['inputs']))
            want = logit_target_stats(
                logits, labels, reference=None if side == 'teacher' else
                model.teacher.decode_head(
                    model.teacher.extract_feat(data['inputs'])))
            assert got['loss_kd'][side] == pytest.approx(want), side
    assert got['loss_kd']['teacher']['agree'] != pytest.approx(
        got['loss_kd']['student']['agree'])  # it can tell the two apart
    r = got['loss_kd']
    text = format_targets({'kd': {'loss_kd': dict(
        tau=1.0, teacher=r['teacher'], alone=r['student'],
        distilled=r['student'])}})
    agree = f"{100 * r['student']['agree_ref']:.0f}%"
    assert '| kd | loss_kd | 1 |' in text and 'labelled pixels' in text
    assert text.rstrip().endswith(f'| {agree} | {agree} |'), text
