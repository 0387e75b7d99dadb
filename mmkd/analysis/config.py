"""Which models a config holds, and the dummy input size to inspect them.

Used by :mod:`mmkd.analysis.layers` and ``tools/inspect_layers.py``.
"""
import copy
from typing import Dict, List, Optional, Sequence, Tuple

from mmengine.model import revert_sync_batchnorm
from torch import nn

from mmkd.utils.tool_utils import strip_pretrained

#: Distiller types whose config holds a student and a teacher.
DISTILLER_TYPES = ('SegDistiller', 'ClsDistiller', 'Distiller')
DEFAULT_SIZE = {'seg': (512, 512), 'cls': (224, 224)}


# ----------------------------------------------------------------------
def model_configs(cfg) -> Dict[str, dict]:
    """``{'teacher': ..., 'student': ...}`` of a distiller config, or
    ``{'model': ...}`` of a plain one (deep copies)."""
    model = cfg['model'] if 'model' in cfg else cfg
    if model.get('type') in DISTILLER_TYPES or ('student' in model
                                                and 'teacher' in model):
        return {
            'teacher': copy.deepcopy(dict(model['teacher'])),
            'student': copy.deepcopy(dict(model['student']))
        }
    return {'model': copy.deepcopy(dict(model))}


def _task(model_cfg: dict) -> str:
    return 'seg' if 'decode_head' in model_cfg else 'cls'


def _pipelines(dataset) -> List[list]:
    """Every ``pipeline`` in a (possibly wrapped) dataset config."""
    if not isinstance(dataset, dict):
        return []
    found = [dataset['pipeline']] if isinstance(
        dataset.get('pipeline'), (list, tuple)) else []
    for key in ('dataset', 'datasets'):
        inner = dataset.get(key)
        for d in (inner if isinstance(inner, (list, tuple)) else [inner]):
            found += _pipelines(d)
    return found


def _pair(value) -> Optional[Tuple[int, int]]:
    if isinstance(value, int):
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(
            isinstance(v, int) for v in value):
        return int(value[0]), int(value[1])
    return None


def input_size(cfg, override: Optional[Sequence[int]] = None
               ) -> Tuple[Tuple[int, int], str]:
    """``((H, W), where it came from)`` of the dummy input.

    In order: ``override``; the ``size`` of the (distiller's, student's or
    model's) data preprocessor; the crop of the train pipeline
    (``RandomCrop.crop_size``, ``RandomResizedCrop.scale``,
    ``CenterCrop.crop_size``); a top-level ``crop_size``; 512 x 512 for
    segmentation, 224 x 224 for classification.
    """
    if override:
        size = _pair(list(override) if len(override) == 2 else override[0])
        return size, '--size'
    model = cfg['model'] if 'model' in cfg else cfg
    for where, dp in (('model.data_preprocessor', model.get(
            'data_preprocessor')), ('model.student.data_preprocessor',
                                    (model.get('student') or {}).get(
                                        'data_preprocessor'))):
        size = _pair((dp or {}).get('size')) if isinstance(dp, dict) else None
        if size:
            return size, f'{where}.size'
    loader = cfg.get('train_dataloader') if hasattr(cfg, 'get') else None
    for pipeline in _pipelines((loader or {}).get('dataset')):
        for step in pipeline:
            kind = step.get('type', '') if isinstance(step, dict) else ''
            for key in ('crop_size', 'scale'):
                size = _pair(step.get(key)) if kind in (
                    'RandomCrop', 'RandomResizedCrop', 'CenterCrop') else None
                if size:
                    return size, f'train pipeline {kind}.{key}'
    size = _pair(cfg.get('crop_size')) if hasattr(cfg, 'get') else None
    if size:
        return size, 'crop_size'
    task = _task(next(iter(model_configs(cfg).values())))
    return DEFAULT_SIZE[task], f'default for {task} (no crop in the config)'


def build_for_inspection(model_cfg: dict) -> nn.Module:
    """Build a model without pretrained weights, SyncBN reverted, in eval.

    ``Pretrained`` init configs and ``pretrained`` paths are dropped
    (:func:`strip_pretrained`); a ``TorchvisionClassifier`` gets
    ``weights=None, checkpoint=None``. Nothing is downloaded.
    """
    from mmengine.registry import DefaultScope

    from mmkd.registry import MODELS
    model_cfg = strip_pretrained(copy.deepcopy(dict(model_cfg)))
    for key in ('weights', 'checkpoint'):
        if model_cfg.get(key) is not None:
            model_cfg[key] = None
    if DefaultScope.get_current_instance() is None:
        with DefaultScope.overwrite_default_scope('mmkd'):
            model = MODELS.build(model_cfg)
    else:
        model = MODELS.build(model_cfg)
    return revert_sync_batchnorm(model).eval()
