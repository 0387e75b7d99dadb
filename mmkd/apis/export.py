"""Export the student of a distillation run as a plain mmseg model."""
import copy
import os
import os.path as osp
from typing import Optional, Tuple

import torch
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from mmkd.utils.tool_utils import strip_pretrained
from mmkd.version import __version__

STUDENT_PREFIX = 'student.'


def _plain(obj):
    """Convert config/numpy containers to built-in types (weights-only)."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_plain(v) for v in obj)
    if hasattr(obj, 'item') and not isinstance(obj, torch.Tensor):
        return obj.item()  # numpy scalar
    return obj


def student_config(cfg: Config) -> Config:
    """Turn a ``SegDistiller`` config into the student's plain mmseg config.

    The model becomes the student segmentor (with the distiller's data
    preprocessor), the scope becomes ``'mmseg'``, and hooks and imports that
    only exist in mmkd are dropped, so the result loads without mmkd.
    """
    from mmseg.registry import HOOKS

    model = cfg.model
    if model.get('type') != 'SegDistiller':
        raise ValueError(
            f"expected a SegDistiller config, got model type "
            f"{model.get('type')!r}; a plain segmentor needs no export")
    student = copy.deepcopy(model.student)
    if model.get('data_preprocessor') is not None:
        student['data_preprocessor'] = copy.deepcopy(model.data_preprocessor)
    strip_pretrained(student)
    out = copy.deepcopy(cfg)
    out.model = student
    out.default_scope = 'mmseg'
    out.load_from = None
    out.resume = False
    out.pop('custom_imports', None)
    with DefaultScope.overwrite_default_scope('mmseg'):
        out.custom_hooks = [
            hook for hook in out.get('custom_hooks', [])
            if HOOKS.get(hook['type']) is not None
        ]
    if 'tta_model' in out and isinstance(out.tta_model, (dict, ConfigDict)):
        out.tta_model.pop('module', None)
    return out


def export_student(config: str,
                   checkpoint: str,
                   out_dir: str,
                   cfg_options: Optional[dict] = None,
                   name: str = 'student') -> Tuple[str, str]:
    """Write ``<out_dir>/<name>.pth`` and ``<out_dir>/<name>_config.py``.

    The checkpoint holds only the student's weights (``state_dict``) and
    plain metadata, so ``mmseg.apis.init_model(config, checkpoint)`` loads
    it with torch's weights-only unpickler and without importing mmkd.
    Both files are written atomically.

    Args:
        config (str): The distillation config.
        checkpoint (str): A checkpoint of that distiller (path or URL).
        out_dir (str): Output directory (created if needed).
        cfg_options (dict, optional): Overrides merged into the config.
        name (str): Base name of the output files.

    Returns:
        tuple[str, str]: Paths of the checkpoint and the config.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmseg.registry import MODELS
    from mmkd.utils.checkpoint import atomic_torch_save

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    out_cfg = student_config(cfg)

    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    student_state = {
        key[len(STUDENT_PREFIX):]: value
        for key, value in state.items() if key.startswith(STUDENT_PREFIX)
    }
    if not student_state:
        raise ValueError(
            f'{checkpoint} has no {STUDENT_PREFIX!r} weights; pass a '
            f'checkpoint saved while training a SegDistiller')

    # The exported weights must fit the exported config exactly.
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(copy.deepcopy(out_cfg.model))
    model.load_state_dict(student_state, strict=True)

    meta = dict(ckpt.get('meta') or {})
    export_meta = _plain({
        'dataset_meta': meta.get('dataset_meta'),
        'mmkd_version': __version__,
        'exported_from': str(checkpoint),
        'iter': meta.get('iter'),
        'epoch': meta.get('epoch'),
    })
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = osp.join(out_dir, f'{name}.pth')
    cfg_path = osp.join(out_dir, f'{name}_config.py')
    atomic_torch_save({'meta': export_meta, 'state_dict': student_state},
                      ckpt_path)
    # mmengine picks the dump format from the suffix: keep '.py'.
    tmp_cfg = osp.join(out_dir, f'.{name}_config.partial.py')
    out_cfg.dump(tmp_cfg)
    os.replace(tmp_cfg, cfg_path)
    return ckpt_path, cfg_path
