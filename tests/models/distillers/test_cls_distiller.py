"""ClsDistiller: torchvision ResNet34 -> ResNet18 through the engine."""
import copy

import pytest
import torch
from mmengine.optim import OptimWrapper

from mmkd.registry import MODELS

pytest.importorskip('mmpretrain')

DP = dict(type='mmpretrain.ClsDataPreprocessor',
          mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
          to_rgb=True)


def classifier(name):
    return dict(type='TorchvisionClassifier', model_name=name,
                num_classes=10, data_preprocessor=DP)


def distiller(distill, **kwargs):
    return MODELS.build(dict(
        type='ClsDistiller', student=classifier('resnet18'),
        teacher=classifier('resnet34'), data_preprocessor=DP,
        distill=distill, probe_input_shape=(2, 3, 32, 32), **kwargs))


ICKD_C = dict(name='loss_icc', student='layer4', teacher='layer4',
              student_transforms=[dict(type='ConvBNConnector')],
              loss=dict(type='ICKDLoss', grid_size=(1, 1),
                        loss_weight=1e-3))
KD = dict(name='loss_kd', student='fc', teacher='fc',
          loss=dict(type='ClsKDLoss', tau=1.0, loss_weight=0.5))


def batch(n=4, size=32, seed=0):
    from mmpretrain.structures import DataSample
    gen = torch.Generator().manual_seed(seed)
    images = [torch.randint(0, 256, (3, size, size), generator=gen,
                            dtype=torch.uint8) for _ in range(n)]
    samples = [DataSample().set_gt_label(int(i) % 10) for i in range(n)]
    return dict(inputs=images, data_samples=samples)


def test_resnet34_to_resnet18_distils_for_a_few_iterations():
    torch.manual_seed(0)
    model = distiller([ICKD_C, KD])
    model.train()
    optim = OptimWrapper(torch.optim.SGD(
        [p for p in model.parameters() if p.requires_grad], lr=0.01))
    teacher_before = copy.deepcopy(model.teacher.state_dict())
    fc_before = model.student.fc.weight.detach().clone()
    seen = []
    for i in range(3):
        log = model.train_step(batch(seed=i), optim)
        seen.append(log)
    assert {'loss_cls', 'distill.loss_icc', 'distill.loss_kd'} <= set(
        k.split('/')[-1] for k in seen[0]) | set(seen[0])
    assert all(torch.isfinite(torch.as_tensor(v)) for log in seen
               for v in log.values())
    assert not torch.equal(model.student.fc.weight, fc_before)
    for key, value in model.teacher.state_dict().items():
        assert torch.equal(value, teacher_before[key]), key


def test_kd_on_logits_gets_labels_and_prediction_uses_the_student():
    model = distiller([KD]).eval()
    data = model.data_preprocessor(batch(), False)
    with torch.no_grad():
        out = model(data['inputs'], data['data_samples'], mode='predict')
        ref = model.student(data['inputs'], data['data_samples'],
                            mode='predict')
    torch.testing.assert_close(
        torch.stack([o.pred_score for o in out]),
        torch.stack([r.pred_score for r in ref]))
    target, mask = model.targets(data['data_samples'])
    assert target.tolist() == [0, 1, 2, 3] and mask is None


def test_segmentor_teacher_is_refused(teacher_cfg):
    with pytest.raises(TypeError, match='is a segmentor; use SegDistiller'):
        MODELS.build(dict(type='ClsDistiller', student=classifier('resnet18'),
                          teacher=teacher_cfg, distill=[]))


def test_classifier_teacher_for_segmentation_student_is_refused(
        student_cfg):
    with pytest.raises(TypeError, match='not an mmseg segmentor'):
        MODELS.build(dict(type='SegDistiller', student=student_cfg,
                          teacher=classifier('resnet34'), distill=[]))
