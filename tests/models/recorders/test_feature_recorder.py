import gc

import pytest
import torch
from torch import nn

from mmkd.models.recorders import (FeatureRecorder, FeatureSpec,
                                   StaleFeatureError)


class Toy(nn.Module):

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 1)
        self.relu = nn.ReLU()
        self.split = Split()

    def forward(self, x):
        x = self.relu(self.conv(x))
        x = self.relu(x - 0.5)  # the ReLU runs twice
        return self.split(x)


class Split(nn.Module):

    def forward(self, x):
        return x[:, :2], x[:, 2:]


def test_records_output_and_input():
    model, x = Toy(), torch.randn(2, 3, 5, 5)
    recorder = FeatureRecorder(
        model, ['conv', dict(module='conv', source='input')])
    with recorder.recording():
        model(x)
    torch.testing.assert_close(recorder.get('conv'), model.conv(x))
    assert recorder.get(dict(module='conv', source='input')) is x


def test_call_index_picks_repeated_calls():
    model, x = Toy(), torch.randn(2, 3, 5, 5)
    first = dict(module='relu', source='input', call=0)
    last = dict(module='relu', source='input', call=-1)
    recorder = FeatureRecorder(model, [first, last])
    with recorder.recording():
        model(x)
    conv = model.conv(x)
    torch.testing.assert_close(recorder.get(first), conv)
    torch.testing.assert_close(recorder.get(last), conv.relu() - 0.5)
    with pytest.raises(RuntimeError, match='ran 2 time'):
        recorder.get(dict(module='relu', source='input', call=5))


def test_tuple_output_needs_index():
    model, x = Toy(), torch.randn(1, 3, 4, 4)
    recorder = FeatureRecorder(model, ['split', dict(module='split', index=1)])
    with recorder.recording():
        out = model(x)
    assert recorder.get(dict(module='split', index=1)) is out[1]
    with pytest.raises(RuntimeError, match='set `index`'):
        recorder.get('split')


def test_records_only_inside_recording_and_resets():
    model = Toy()
    recorder = FeatureRecorder(model, ['conv'])
    model(torch.randn(1, 3, 4, 4))
    with pytest.raises(RuntimeError, match='did not run'):
        recorder.get('conv')
    with recorder.recording():
        model(torch.randn(1, 3, 4, 4))
        model(torch.randn(1, 3, 4, 4))
    assert len(recorder._storage.records['conv']['output']) == 2
    with recorder.recording():
        pass
    with pytest.raises(RuntimeError, match='did not run'):
        recorder.get('conv')


def test_unknown_module_lists_close_matches():
    with pytest.raises(KeyError, match=r"no module named 'convv'.*conv"):
        FeatureRecorder(Toy(), ['convv'], model_name='student')


def test_bad_spec():
    with pytest.raises(ValueError, match="'input' or 'output'"):
        FeatureSpec.parse(dict(module='conv', source='grad'))
    with pytest.raises(ValueError, match='module \\(required\\)'):
        FeatureSpec.parse(dict(layer='conv'))


def test_remove_and_garbage_collection_detach_hooks():
    model = Toy()
    recorder = FeatureRecorder(model, ['conv', 'relu'])
    assert len(model.conv._forward_hooks) == 1
    recorder.remove()
    assert not model.conv._forward_hooks and not model.relu._forward_hooks

    FeatureRecorder(model, ['conv'])  # dropped at once
    gc.collect()
    assert not model.conv._forward_hooks

    with FeatureRecorder(model, ['conv']) as rec:
        assert rec.num_hooks == 1
    assert not model.conv._forward_hooks


# ----------------------------------------------------------------------
# Capture that cannot be silently wrong
# ----------------------------------------------------------------------
class NegThenInplaceReLU(nn.Module):
    """1x1 conv with weight -1 feeding an in-place ReLU."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 1, 1, bias=False)
        nn.init.constant_(self.conv.weight, -1.0)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.conv(x))


def test_input_is_captured_before_the_module_runs():
    # On ones the conv gives -1 everywhere; the in-place ReLU then
    # overwrites that very tensor with 0. A post-forward hook read 0.0.
    model, x = NegThenInplaceReLU(), torch.ones(1, 1, 2, 2)
    spec = dict(module='relu', source='input', clone=True)
    recorder = FeatureRecorder(model, [spec])
    with recorder.recording():
        model(x)
    assert recorder.get(spec).min().item() == -1.0


def test_modified_in_place_is_never_returned_stale():
    model, x = NegThenInplaceReLU(), torch.ones(1, 1, 2, 2)
    for spec in (dict(module='relu', source='input'), 'conv'):
        recorder = FeatureRecorder(model, [spec])
        with recorder.recording():
            model(x)
        assert recorder.is_stale(spec)
        with pytest.raises(StaleFeatureError,
                           match=r"modified in place.*clone=True"):
            recorder.get(spec)
        recorder.remove()
    # cloned at capture: the true pre-ReLU value
    recorder = FeatureRecorder(model, [dict(module='conv', clone=True)])
    with recorder.recording():
        model(x)
    assert recorder.get('conv').min().item() == -1.0


def test_mmseg_resnet_bn2_records_the_pre_residual_tensor():
    # BasicBlock: out = bn2(conv2(...)); out += identity; relu_(out). The
    # bn2 output is the tensor that `+=` and the in-place ReLU overwrite.
    from mmseg.models.backbones.resnet import BasicBlock
    torch.manual_seed(0)
    block = BasicBlock(4, 4).eval()
    x = torch.randn(2, 4, 6, 6)
    with torch.no_grad():
        expected = block.bn2(block.conv2(block.relu(block.bn1(
            block.conv1(x)))))
    assert expected.min() < 0
    recorder = FeatureRecorder(block, ['bn2'])
    with recorder.recording(), torch.no_grad():
        block(x)
    with pytest.raises(StaleFeatureError, match="bn2"):
        recorder.get('bn2')
    recorder.set_clone('bn2')
    with recorder.recording(), torch.no_grad():
        block(x)
    torch.testing.assert_close(recorder.get('bn2'), expected)
    # the stage's pre-activation: the input of the last ReLU call
    pre = dict(module='relu', source='input', call=-1, clone=True)
    recorder = FeatureRecorder(block, [pre])
    with recorder.recording(), torch.no_grad():
        block(x)
    torch.testing.assert_close(recorder.get(pre), expected + x)


def test_deepcopy_records_into_its_own_storage():
    import copy

    class Holder(nn.Module):

        def __init__(self):
            super().__init__()
            self.net = Toy()
            self.recorder = FeatureRecorder(self.net, ['conv'])

    original = Holder()
    twin = copy.deepcopy(original)
    x = torch.randn(1, 3, 4, 4)
    with twin.recorder.recording():
        twin.net(x)
    torch.testing.assert_close(twin.recorder.get('conv'), twin.net.conv(x))
    with pytest.raises(RuntimeError, match='did not run'):
        original.recorder.get('conv')
    # and the original records into its own storage, not the twin's
    with original.recorder.recording():
        original.net(x)
    torch.testing.assert_close(original.recorder.get('conv'),
                               original.net.conv(x))
    assert len(twin.recorder._storage.records['conv']['output']) == 1
    torch.testing.assert_close(twin.recorder.get('conv'), twin.net.conv(x))
    twin.recorder.remove()
    assert len(original.net.conv._forward_hooks) == 1


def test_replaced_module_is_rehooked_by_name():
    # mmengine's revert_sync_batchnorm replaces SyncBN modules by new BN
    # modules: hooks registered on the old ones would never fire again.
    from mmengine.model import revert_sync_batchnorm
    model = nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.SyncBatchNorm(4), nn.ReLU())
    recorder = FeatureRecorder(model, ['1'])
    model = revert_sync_batchnorm(model)
    assert not isinstance(model[1], nn.SyncBatchNorm)
    model.eval()
    x = torch.randn(2, 3, 4, 4)
    with recorder.recording():
        model(x)
    torch.testing.assert_close(recorder.get('1'), model[1](model[0](x)))
