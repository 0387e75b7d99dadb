"""TorchvisionClassifier: torchvision names, modes, weights loading."""
import copy

import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmpretrain.structures import DataSample

from mmkd.models.classifiers import (ScalableResNet, TorchvisionClassifier,
                                     torchvision_weights_url)
from mmkd.registry import MODELS

TINY = dict(block='BasicBlock', layers=[1, 1, 1, 1], width=8)


def samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def test_resnet18_is_torchvision_resnet18():
    model = MODELS.build(
        dict(type='TorchvisionClassifier', model_name='resnet18'))
    plain = torchvision.models.resnet18()
    names = [n for n, _ in model.named_children()]
    assert names == ['data_preprocessor'] + [
        n for n, _ in plain.named_children()
    ]
    assert list(model.state_dict()) == list(plain.state_dict())
    model.load_state_dict(plain.state_dict())
    model.eval(), plain.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), plain(x))
    assert model.get_submodule('layer4') is model.net.layer4


def test_hooks_on_top_level_names_fire():
    model = TorchvisionClassifier(arch=TINY, num_classes=5)
    seen = {}

    def hook(name):
        def record(module, inputs, output):
            seen[name] = tuple(output.shape)
        return record

    model.layer4.register_forward_hook(hook('layer4'))
    model.fc.register_forward_hook(hook('fc'))
    model(torch.randn(2, 3, 64, 64), mode='tensor')
    assert seen == dict(layer4=(2, 64, 2, 2), fc=(2, 5))


def test_replaced_child_is_used_and_deepcopy_is_independent():
    model = TorchvisionClassifier(arch=TINY, num_classes=3).eval()
    x = torch.randn(2, 3, 32, 32)
    before = model(x)
    twin = copy.deepcopy(model)
    assert twin.net.layer1 is twin.layer1 and twin.layer1 is not model.layer1
    twin.bn1 = torch.nn.Identity()  # as a SyncBN conversion replaces it
    assert isinstance(twin.net.bn1, torch.nn.Identity)
    assert not torch.equal(twin(x), before)
    assert torch.equal(model(x), before)
    model.train()
    assert model.net.training and model.layer1.training
    model.eval()
    assert not model.net.training


def test_loss_is_cross_entropy_with_label_smoothing():
    torch.manual_seed(0)
    model = TorchvisionClassifier(
        arch=TINY, num_classes=4, label_smoothing=0.1, loss_weight=2.0)
    x = torch.randn(3, 3, 32, 32)
    labels = torch.tensor([0, 3, 1])
    losses = model(x, samples(labels), mode='loss')
    assert set(losses) == {'loss_cls'}
    expected = 2.0 * F.cross_entropy(
        model(x), labels, label_smoothing=0.1)
    torch.testing.assert_close(losses['loss_cls'], expected)


def test_loss_with_soft_targets():
    model = TorchvisionClassifier(arch=TINY, num_classes=3)
    x = torch.randn(2, 3, 32, 32)
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.2, 0.8]])
    data = [DataSample().set_gt_label(0).set_gt_score(s) for s in soft]
    got = model.loss(x, data)['loss_cls']
    expected = -(soft * F.log_softmax(model(x), 1)).sum(1).mean()
    torch.testing.assert_close(got, expected)


def test_predict_gives_scores_and_labels():
    model = TorchvisionClassifier(arch=TINY, num_classes=4)
    logits = torch.tensor([[0., 3., 1., 2.], [5., 0., 0., 1.]])
    out = model.predict_by_logits(logits, samples([1, 2]))
    assert [int(o.pred_label) for o in out] == [1, 0]
    torch.testing.assert_close(out[0].pred_score, logits[0].softmax(0))
    assert int(out[1].gt_label) == 2
    fresh = model(torch.randn(2, 3, 32, 32), mode='predict')
    assert all(isinstance(o, DataSample) and 'pred_score' in o
               for o in fresh)


def test_checkpoint_loaded_by_init_weights(tmp_path):
    plain = torchvision.models.resnet18(num_classes=7)
    # torchvision's V1 files predate BN's num_batches_tracked
    state = {k: v for k, v in plain.state_dict().items()
             if not k.endswith('num_batches_tracked')}
    torch.save(state, tmp_path / 'tv.pth')
    torch.save({'state_dict': {f'student.{k}': v for k, v in state.items()}},
               tmp_path / 'distilled.pth')
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        ref = plain.eval()(x)
    for path, prefix in (('tv.pth', None), ('distilled.pth', 'student.')):
        model = TorchvisionClassifier(
            model_name='resnet18', num_classes=7,
            checkpoint=str(tmp_path / path), checkpoint_prefix=prefix)
        with torch.no_grad():
            assert not torch.equal(model.eval()(x), ref)  # not at build
        model.init_weights()
        with torch.no_grad():
            assert torch.equal(model.eval()(x), ref)


def test_checkpoint_mismatch_names_the_fix(tmp_path):
    torch.save(torchvision.models.resnet18().state_dict(),
               tmp_path / 'r18.pth')
    model = TorchvisionClassifier(
        model_name='resnet34', checkpoint=str(tmp_path / 'r18.pth'))
    with pytest.raises(RuntimeError, match='does not fit.*checkpoint_prefix'):
        model.load_pretrained()


def test_weights_resolve_to_torchvision_urls(monkeypatch):
    url = torchvision_weights_url('resnet34', 'IMAGENET1K_V1')
    assert url == torchvision.models.ResNet34_Weights.IMAGENET1K_V1.url
    with pytest.raises(ValueError, match='IMAGENET1K_V1'):
        torchvision_weights_url('resnet34', 'IMAGENET1K_V9')
    model = TorchvisionClassifier(model_name='resnet34',
                                  weights='IMAGENET1K_V1')
    assert model.pretrained_source() == url

    def offline(*args, **kwargs):
        raise OSError('network is unreachable')

    import mmkd.utils.safe_loading as safe_loading
    monkeypatch.setattr(safe_loading, 'safe_load', offline)
    with pytest.raises(RuntimeError, match='Without network.*weights=None'):
        model.init_weights()


@pytest.mark.parametrize('kwargs, match', [
    (dict(), 'exactly one of model_name'),
    (dict(model_name='resnet18', arch=TINY), 'exactly one of model_name'),
    (dict(model_name='resnet_nope'), 'not a torchvision classification'),
    (dict(arch=TINY, weights='IMAGENET1K_V1'), 'with arch use checkpoint'),
    (dict(model_name='resnet18', weights='IMAGENET1K_V1',
          checkpoint='x.pth'), 'not both'),
    (dict(arch=dict(TINY, block='Nope')), 'not a ResNet block'),
    (dict(arch=dict(TINY, layers=[1, 1, 1])), '4 stages'),
    (dict(arch=TINY, label_smoothing=1.0), 'label_smoothing'),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TorchvisionClassifier(**kwargs)


def test_other_families_keep_their_names():
    model = TorchvisionClassifier(model_name='mobilenet_v2', num_classes=10)
    assert [n for n, _ in model.named_children()][1:] == [
        'features', 'classifier'
    ]
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 10)


def test_scalable_resnet_width_64_is_torchvision():
    ours = ScalableResNet('BasicBlock', [2, 2, 2, 2], num_classes=1000)
    ref = torchvision.models.resnet18()
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in ref.state_dict().items()
    }
    narrow = ScalableResNet('Bottleneck', [1, 1, 1, 1], num_classes=3,
                            width=8)
    assert narrow.fc.in_features == 8 * 8 * 4
