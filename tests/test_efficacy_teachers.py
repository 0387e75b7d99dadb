"""The efficacy table over several teachers: the summary by hand, and
``tools/benchmark_efficacy.py --teacher-seeds`` end to end on tiny data."""
import json
import os.path as osp

import pytest
import torch

from mmkd.apis.efficacy import summarize
from mmkd.apis.efficacy_teachers import (format_teachers_table,
                                         summarize_teachers)
from mmkd.datasets.synthetic_voc import generate_synthetic_voc
from tool_helpers import load_tool


def _rec(stage, seed, miou):
    return dict(stage=stage, seed=seed, metrics=dict(mIoU=miou),
                train_time_s=10.0, weight_rule=None, cka=None,
                grad_ratio=None)


BASE = [_rec('baseline', 0, 40.0), _rec('baseline', 1, 42.0)]


def test_summarize_teachers_by_hand():
    # student alone 40 / 42: mean 41, std sqrt(2) = 1.41
    # teacher 61, KD 51 / 51: gap 10 / 20 = 50%, +10 > 2 x 1.41, wins 2
    # teacher 51, KD 42 / 44: gap 2 / 10 = 20%, +2 < 2 x 1.41, wins 2
    # over teachers: gap (50 + 20) / 2 = 35%, std |50 - 20| / sqrt(2) = 21%
    rows = {
        0: summarize(BASE + [_rec('kd', 0, 51.0), _rec('kd', 1, 51.0)],
                     61.0, ['kd'], [0, 1]),
        1: summarize(BASE + [_rec('kd', 0, 42.0), _rec('kd', 1, 44.0)],
                     51.0, ['kd'], [0, 1]),
    }
    out = summarize_teachers(rows)
    teacher, base, kd = out
    assert teacher['per_teacher'] == [61.0, 51.0]
    assert base['mean'] == pytest.approx(41.0)
    assert kd['gaps'] == pytest.approx([0.5, 0.2])
    assert kd['gap'][0] == pytest.approx(0.35)
    assert kd['gap'][1] == pytest.approx(0.3 / 2 ** 0.5)
    assert (kd['beats'], kd['beats_known'], kd['wins'], kd['runs']) == (
        1, 2, 4, 4)
    table = format_teachers_table(out, [0, 1])
    assert 'teacher seed 0 / 1' in table
    assert '| 61.00 / 51.00 |' in table
    assert '| KD | 51.00 / 43.00 | +50% / +20% | +35% ± 21% | 1/2 | ' \
        '4/4 |' in table


def test_teacher_below_the_student_alone_has_no_gap():
    """A teacher that does not beat the student alone has no gap to close:
    'n/a' under it, left out of the mean, not a division by <= 0."""
    rows = {
        0: summarize(BASE + [_rec('kd', 0, 51.0), _rec('kd', 1, 51.0)],
                     61.0, ['kd'], [0, 1]),
        1: summarize(BASE + [_rec('kd', 0, 41.0), _rec('kd', 1, 43.0)],
                     40.0, ['kd'], [0, 1]),
    }
    kd = summarize_teachers(rows)[-1]
    assert kd['gaps'][1] is None and kd['gap'] == pytest.approx((0.5, 0.0))
    assert '+50% / n/a' in format_teachers_table(summarize_teachers(rows),
                                                 [0, 1])


def test_summarize_teachers_errors():
    with pytest.raises(ValueError, match='no teacher rows'):
        summarize_teachers({})
    one = summarize(BASE + [_rec('kd', 0, 51.0), _rec('kd', 1, 51.0)],
                    61.0, ['kd'], [0, 1])
    with pytest.raises(ValueError, match='teacher seed 1 has other rows'):
        summarize_teachers({0: one, 1: one[:2]})


def test_teacher_seed_arguments(capsys):
    bench = load_tool('benchmark_efficacy')
    assert bench.parse_args([]).teacher_seeds is None
    assert bench.parse_args(['--teacher-seeds', '0', '2']).teacher_seeds \
        == [0, 2]
    for argv, msg in ((['--teacher-seeds', '1', '1'], 'distinct'),
                      (['--teacher-seeds', '0', '1', '--probe-losses'],
                       'use one teacher')):
        with pytest.raises(SystemExit):
            bench.parse_args(argv)
        assert msg in capsys.readouterr().err


@pytest.fixture(scope='module')
def tiny_voc(tmp_path_factory):
    return generate_synthetic_voc(
        str(tmp_path_factory.mktemp('teachers') / 'data'), num_train=12,
        num_val=6, img_size=48, num_classes=4, seed=5, layout='large')


def _state(path):
    return torch.load(path, map_location='cpu', weights_only=True)[
        'state_dict']


def test_benchmark_over_two_teachers(tiny_voc, tmp_path, capsys):
    """--teacher-seeds 0 1: the config's seed is the one-teacher run's
    teacher (cache and runs reused), seed 1 trains another teacher from the
    same pretext backbones; the student alone trains once; each teacher has
    its table and the summary gives KD's gap under each."""
    bench = load_tool('benchmark_efficacy')
    out, proto_dir = tmp_path / 'eff', tmp_path / 'proto'
    common = ['--data-root', tiny_voc, '--work-dir', str(out),
              '--protocol-dir', str(proto_dir), '--seeds', '0',
              '--methods', 'kd', '--jobs', '1', '--iters',
              'teacher=2,student=2,pretext=2']
    bench.main(common)
    # student=2 is not the configs' schedule: runs and reports in student2/
    rep = out / 'student2'
    first = json.loads((rep / 'efficacy.json').read_text())
    capsys.readouterr()

    bench.main(common + ['--teacher-seeds', '0', '1'])
    log = capsys.readouterr().out
    assert '2 runs done before, 1 to train' in log  # only KD under seed 1
    assert 'using the cached teacher' in log
    caches = [json.loads((proto_dir / d / 'teacher_cache.json').read_text())
              for d in ('teacher', 'teacher_seed1')]
    assert caches[0]['key'] != caches[1]['key']
    ckpts = [_state(proto_dir / d / c['checkpoint'])
             for d, c in zip(('teacher', 'teacher_seed1'), caches)]
    assert any(not torch.equal(ckpts[0][k], ckpts[1][k]) for k in ckpts[0])
    assert not (rep / 'teacher_seed1' / 'baseline').exists()
    kd1 = json.loads(
        (rep / 'teacher_seed1' / 'kd' / 'seed0' / 'result.json').read_text())
    assert kd1['teacher_seed'] == 1
    seed1 = json.loads((rep / 'teacher_seed1' / 'efficacy.json').read_text())
    assert seed1['teacher']['seed'] == 1
    assert seed1['teacher']['checkpoint'].startswith(
        osp.join(str(proto_dir), 'teacher_seed1'))
    # the config's teacher's table is the one-teacher run's
    again = json.loads((rep / 'efficacy.json').read_text())
    assert again['rows'] == first['rows']

    summary = json.loads((rep / 'efficacy_teachers.json').read_text())
    assert summary['teacher_seeds'] == [0, 1]
    kd = summary['rows'][-1]
    teachers = [first['teacher']['metrics']['mIoU'],
                seed1['teacher']['metrics']['mIoU']]
    assert summary['rows'][0]['per_teacher'] == pytest.approx(teachers)
    assert kd['per_teacher'] == pytest.approx(
        [first['rows'][-1]['mean'], seed1['rows'][-1]['mean']])
    text = (rep / 'efficacy_teachers.md').read_text()
    assert '| KD |' in text and 'teacher_seed1/efficacy.md' in text

    # a sweep under teacher seed 1: its held-out protocol's teacher of that
    # seed, its runs in their own dirs
    bench.main(common + ['--teacher-seeds', '1', '--sweep-ratios', '0.5',
                         '--holdout-fraction', '0.25'])
    assert (out / 'sweep' / 'protocol' / 'teacher_seed1' /
            'teacher_cache.json').is_file()
    assert not (out / 'sweep' / 'protocol' / 'teacher').exists()
    runs = out / 'sweep' / 'teacher_seed1' / 'student2'
    assert (runs / 'kd' / 'ratio0.5' / 'seed0' / 'result.json').is_file()
    assert '| kd | 0.5 |' in (runs / 'sweep_kd.md').read_text()
