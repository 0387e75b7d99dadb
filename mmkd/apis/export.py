"""Export the student of a distillation run as a plain mmseg model."""
import copy
import os
import os.path as osp
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmkd.utils.atomic_io import atomic_torch_save, atomic_write_text
from mmkd.utils.plain import to_plain
from mmkd.version import __version__
from .student import (distiller_class, split_student_state,
                      student_eval_config)


def student_config(cfg: Config) -> Config:
    """Turn a ``SegDistiller`` config into the student's plain mmseg config.

    The model becomes the student segmentor (with the distiller's data
    preprocessor), the scope becomes ``'mmseg'``, and hooks and imports that
    only exist in mmkd are dropped, so the result loads without mmkd.
    """
    from mmseg.registry import HOOKS

    from mmkd.models.distillers import SegDistiller
    cls = distiller_class(cfg)
    if cls is None or not issubclass(cls, SegDistiller):
        raise ValueError(
            f"expected a SegDistiller config, got model type "
            f"{cfg.model.get('type')!r}; a plain segmentor needs no export "
            f"(classification students: mmkd.apis.export_cls_student)")
    out = student_eval_config(cfg)
    out.default_scope = 'mmseg'
    for key in list(out.keys()):
        _plain_loaders(out[key])
    out.load_from = None
    out.resume = False
    out.pop('custom_imports', None)
    with DefaultScope.overwrite_default_scope('mmseg'):
        out.custom_hooks = [
            hook for hook in out.get('custom_hooks', [])
            if HOOKS.get(hook['type']) is not None
        ]
    return out


#: mmkd's checked loaders -> the mmcv / mmseg loaders they extend, and the
#: arguments only mmkd's take.
PLAIN_LOADERS = {
    'CheckedLoadImageFromFile': ('LoadImageFromFile', ()),
    'CheckedLoadAnnotations': ('LoadAnnotations',
                               ('num_classes', 'ignore_index')),
}


def _plain_loaders(cfg) -> None:
    """Replace mmkd's checked loaders by mmcv's / mmseg's, in place, so the
    exported config needs no mmkd."""
    if isinstance(cfg, dict):
        kind = cfg.get('type')
        if isinstance(kind, str) and kind.split('.')[-1] in PLAIN_LOADERS:
            plain, extra = PLAIN_LOADERS[kind.split('.')[-1]]
            cfg['type'] = plain
            for key in extra:
                cfg.pop(key, None)
        for value in cfg.values():
            _plain_loaders(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            _plain_loaders(value)


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

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    out_cfg = student_config(cfg)

    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    student_state = split_student_state(ckpt, checkpoint)

    # The exported weights must fit the exported config exactly.
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MODELS.build(copy.deepcopy(out_cfg.model))
    model.load_state_dict(student_state, strict=True)

    meta = dict(ckpt.get('meta') or {})
    export_meta = to_plain({
        'dataset_meta': meta.get('dataset_meta'),
        'mmkd_version': __version__,
        'exported_from': str(checkpoint),
        'iter': meta.get('iter'),
        'epoch': meta.get('epoch'),
    }, keep_tuples=True)
    os.makedirs(out_dir, exist_ok=True)
    ckpt_path = osp.join(out_dir, f'{name}.pth')
    cfg_path = osp.join(out_dir, f'{name}_config.py')
    atomic_torch_save({'meta': export_meta, 'state_dict': student_state},
                      ckpt_path)
    # What Config.dump writes for a '.py' file, written atomically.
    atomic_write_text(out_cfg.pretty_text, cfg_path)
    return ckpt_path, cfg_path
