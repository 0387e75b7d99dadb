"""Export of a classification student to a plain torchvision state_dict."""
import json
import os
import os.path as osp
import subprocess
import sys
import textwrap

import pytest
import torch
import torchvision
from mmengine.config import Config

from mmkd.apis.cls_export import (cls_student_config, export_cls_student,
                                  is_cls_config)
from mmkd.models.classifiers import ScalableResNet, TorchvisionClassifier

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(
    osp.abspath(__file__)))))
ICKD = osp.join(ROOT, 'configs/imagenet/ickd/'
                'ickd-c_resnet34_resnet18_adamw-100e_8xb32_in1k.py')
QS_KD = osp.join(ROOT, 'configs/imagenet/quickstart/'
                 'kd_resnet18-w32_resnet10-w16_syncls-64px.py')


def distiller_checkpoint(path, student, extra=True):
    """A ClsDistiller-style checkpoint: student.*, teacher.*, items."""
    state = {f'student.{k}': v for k, v in student.state_dict().items()}
    if extra:
        state['teacher.fc.weight'] = torch.zeros(3, 3)
        state['distill_items.1.student_transforms.0.0.conv.weight'] = \
            torch.zeros(1)
    torch.save(dict(state_dict=state, meta=dict(
        epoch=3, dataset_meta=dict(classes=('a', 'b')))), path)


def trained_student(**kwargs):
    torch.manual_seed(0)
    model = TorchvisionClassifier(**kwargs)
    for m in model.modules():  # non-trivial BN statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.num_batches_tracked.fill_(7)
    return model.eval()


def test_imagenet_student_round_trip(tmp_path):
    student = trained_student(model_name='resnet18')
    distiller_checkpoint(tmp_path / 'epoch_3.pth', student)
    pth, sidecar = export_cls_student(ICKD, str(tmp_path / 'epoch_3.pth'),
                                      str(tmp_path / 'export'))
    state = torch.load(pth, weights_only=True)
    plain = torchvision.models.resnet18()
    plain.load_state_dict(state)  # strict
    plain.eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(plain(x), student(x))
    meta = json.load(open(sidecar))
    assert meta['build'] == dict(builder='torchvision.models.get_model',
                                 model_name='resnet18', num_classes=1000,
                                 kwargs={})
    assert meta['classes'] == ['a', 'b'] and meta['epoch'] == 3
    assert not [f for f in os.listdir(tmp_path / 'export')
                if f.startswith('.')]  # no temp files left


def test_export_loads_without_mmkd(tmp_path):
    student = trained_student(model_name='resnet18', num_classes=10)
    distiller_checkpoint(tmp_path / 'ckpt.pth', student)
    pth, _ = export_cls_student(
        ICKD, str(tmp_path / 'ckpt.pth'), str(tmp_path / 'out'),
        cfg_options={'model.student.num_classes': 10})
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.save(student(x), tmp_path / 'ref.pt')
    script = textwrap.dedent(f"""
        import sys, torch, torchvision
        model = torchvision.models.resnet18(num_classes=10).eval()
        model.load_state_dict(torch.load({pth!r}, weights_only=True))
        x = torch.randn(1, 3, 64, 64,
                        generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            assert torch.equal(model(x), torch.load({str(tmp_path)!r}
                                                    + '/ref.pt'))
        assert not [m for m in sys.modules if m.startswith('mmkd')]
        print('plain ok')
        """)
    proc = subprocess.run([sys.executable, '-c', script], cwd=str(tmp_path),
                          capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=''))
    assert 'plain ok' in proc.stdout, proc.stderr[-3000:]


def test_narrow_student_exports_to_scalable_resnet(tmp_path):
    cfg = Config.fromfile(QS_KD)
    assert is_cls_config(cfg)
    student_cfg, prefix = cls_student_config(cfg)
    assert prefix == 'student.' and student_cfg['weights'] is None
    kwargs = {k: v for k, v in student_cfg.items()
              if k in ('arch', 'num_classes')}
    student = trained_student(**kwargs)
    distiller_checkpoint(tmp_path / 'iter_9.pth', student)
    pth, sidecar = export_cls_student(QS_KD, str(tmp_path / 'iter_9.pth'),
                                      str(tmp_path))
    build = json.load(open(sidecar))['build']
    net = ScalableResNet(num_classes=build['num_classes'], **build['arch'])
    net.load_state_dict(torch.load(pth, weights_only=True))
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(net.eval()(x), student(x))


def test_plain_classifier_checkpoint_exports(tmp_path):
    cfg = osp.join(ROOT, 'configs/imagenet/baselines/'
                   'resnet18_tv-in1k_adamw-100e_8xb32_in1k.py')
    student = trained_student(model_name='resnet18')
    torch.save(dict(state_dict=student.state_dict()), tmp_path / 'c.pth')
    pth, _ = export_cls_student(cfg, str(tmp_path / 'c.pth'),
                                str(tmp_path / 'out'), name='r18')
    assert osp.basename(pth) == 'r18.pth'
    torchvision.models.resnet18().load_state_dict(
        torch.load(pth, weights_only=True))


def test_export_errors(tmp_path):
    student = trained_student(model_name='resnet34')
    torch.save(dict(state_dict=student.state_dict()), tmp_path / 'no.pth')
    with pytest.raises(ValueError, match="no 'student.' weights"):
        export_cls_student(ICKD, str(tmp_path / 'no.pth'), str(tmp_path))
    distiller_checkpoint(tmp_path / 'r34.pth', student)
    with pytest.raises(RuntimeError, match='does not fit the student'):
        export_cls_student(ICKD, str(tmp_path / 'r34.pth'), str(tmp_path))
    seg = Config(dict(model=dict(type='SegDistiller')))
    with pytest.raises(ValueError, match='export_student'):
        cls_student_config(seg)
    assert not osp.exists(tmp_path / 'student.pth')
