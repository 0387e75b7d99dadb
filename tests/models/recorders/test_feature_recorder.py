import gc

import pytest
import torch
from torch import nn

from mmkd.models.recorders import FeatureRecorder, FeatureSpec


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
    assert len(recorder._records['conv']['output']) == 2
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
