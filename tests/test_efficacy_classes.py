"""Per-class IoU diagnostic (mmkd/apis/efficacy_classes.py)."""
import json
import math
import os

import pytest
import torch

from mmkd.apis import efficacy_classes
from mmkd.apis.efficacy_classes import (_student_state, class_iou,
                                        class_table, run_class_iou)


def test_class_table_by_hand():
    nan = float('nan')
    per_model = {
        'baseline': [dict(bg=90.0, a=10.0, b=nan),
                     dict(bg=92.0, a=30.0, b=nan)],
        'kd': [dict(bg=91.0, a=40.0, b=nan), dict(bg=93.0, a=44.0, b=5.0)],
    }
    text = class_table(per_model, dict(baseline='alone', kd='KD'),
                       teacher=dict(bg=95.0, a=60.0, b=50.0))
    lines = text.strip().splitlines()
    assert lines[-5] == '| model | bg | a | b |'
    assert lines[-3] == '| teacher | 95.0 | 60.0 | 50.0 |'
    # alone: mean ± sample std (stdev of 10, 30 = 14.1); b never present
    assert '| alone | 91.0 ± 1.4 | 20.0 ± 14.1 | - |' in text
    # KD: means over seeds ignoring NaN, change from the alone's mean
    assert '| KD | 92.0 (+1.0) | 42.0 (+22.0) | 5.0 |' in text
    assert 'over its 2 seeds' in text
    assert class_table({}, {}) == ''


def test_student_state_reads_both_checkpoint_kinds(tmp_path):
    w = torch.arange(3.)
    plain, dist = tmp_path / 'plain.pth', tmp_path / 'dist.pth'
    torch.save(dict(state_dict={'head.w': w}), plain)
    torch.save(dict(state_dict={'student.head.w': w, 'teacher.head.w': -w,
                                'distill_items.0.x': w}), dist)
    assert list(_student_state(str(plain))) == ['head.w']
    state = _student_state(str(dist))
    assert list(state) == ['head.w'] and torch.equal(state['head.w'], w)


def test_run_class_iou_caches_by_checkpoint(tmp_path, monkeypatch):
    ckpt = tmp_path / 'iter_2.pth'
    ckpt.write_bytes(b'weights')
    calls = []

    def fake(cfg, checkpoint):
        calls.append(checkpoint)
        return dict(bg=float(len(calls)), a=float('nan'))

    monkeypatch.setattr(efficacy_classes, 'class_iou', fake)
    first = run_class_iou(None, str(ckpt))
    assert first['bg'] == 1.0 and math.isnan(first['a'])
    assert run_class_iou(None, str(ckpt))['bg'] == 1.0 and len(calls) == 1
    cached = json.loads((tmp_path / 'class_iou.json').read_text())
    assert cached['stamp']['checkpoint'] == 'iter_2.pth'
    # a checkpoint written again (another run in the same dir): recomputed
    ckpt.write_bytes(b'other weights')
    os.utime(ckpt, ns=(1, 1))
    assert run_class_iou(None, str(ckpt))['bg'] == 2.0 and len(calls) == 2


def test_class_iou_rejects_a_distiller_config():
    from mmengine.config import Config
    cfg = Config(dict(model=dict(type='SegDistiller', distill=[])))
    with pytest.raises(ValueError, match='plain segmentor config'):
        class_iou(cfg, 'unused.pth')
