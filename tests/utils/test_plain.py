"""mmkd.utils.plain: to_plain and the canonical form behind cache keys."""
import json
from collections import OrderedDict

import numpy as np
import torch
from mmengine.config import Config, ConfigDict

from mmkd.utils.plain import canonical, to_plain


def test_to_plain_builtin_types():
    cfg = ConfigDict(
        a=(1, 2, ConfigDict(b=[np.float64(0.5), np.int64(3)])),
        c=OrderedDict([(1, 'x')]),
        d=np.arange(3, dtype=np.uint8),
        e=None)
    out = to_plain(cfg)
    assert out == {'a': [1, 2, {'b': [0.5, 3]}], 'c': {'1': 'x'},
                   'd': [0, 1, 2], 'e': None}
    assert type(out) is dict and type(out['a'][2]) is dict
    assert type(out['a'][2]['b'][0]) is float
    assert type(out['a'][2]['b'][1]) is int
    assert type(out['c']) is dict
    # tuples kept on request (e.g. dataset_meta classes)
    kept = to_plain(dict(classes=('a', 'b'), pal=[[0, 0, 0]]),
                    keep_tuples=True)
    assert kept == {'classes': ('a', 'b'), 'pal': [[0, 0, 0]]}
    assert type(kept['classes']) is tuple
    # tensors are left alone; the input is not modified
    t = torch.ones(2)
    assert to_plain({'t': t})['t'] is t
    assert isinstance(cfg.a, tuple) and isinstance(cfg.a[2].b[0], np.float64)


def test_canonical_form_is_pinned():
    """The canonical form keys the quickstart teacher cache and the
    efficacy benchmark's runs: changing it invalidates every cache."""
    obj = {'b': 0.1, 'a': (1, np.float64(2.0)), 'c': float('nan'),
           'd': [None, True, 'x'], 'e': {'z': 1, 'y': (np.int64(2), )},
           'f': Config}
    out = canonical(obj)
    assert list(out) == ['a', 'b', 'c', 'd', 'e', 'f']  # sorted keys
    assert out['a'] == [1, '2.0']  # finite floats (numpy's too) as repr
    assert out['b'] == '0.1'
    assert out['c'] == 'nan'  # non-finite floats: repr as well
    assert out['d'] == [None, True, 'x']
    assert out['e'] == {'y': [repr(np.int64(2))], 'z': 1}  # other: repr
    assert out['f'] == repr(Config)
    cfg = Config(dict(model=dict(type='M', lr=0.01, sizes=(3, 4)),
                      steps=[1, 2]))
    text = json.dumps(canonical(cfg.to_dict()), sort_keys=True,
                      separators=(',', ':'))
    assert text == ('{"model":{"lr":"0.01","sizes":[3,4],"type":"M"},'
                    '"steps":[1,2]}')
