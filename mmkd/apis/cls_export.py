"""Export a classification student as a plain torchvision ``state_dict``.

A distilled (or plainly trained) :class:`TorchvisionClassifier` holds the
torchvision network under torchvision's own module names, so its weights
are a torchvision ``state_dict`` as they are::

    import torch, torchvision
    model = torchvision.models.resnet18()
    model.load_state_dict(torch.load('student.pth', weights_only=True))

:func:`export_cls_student` writes that file (tensors only, atomically) and a
JSON sidecar saying how to build the network (builder, ``num_classes``,
classes, input normalisation), after checking that the plain network loads
it strictly and gives the same logits as the trained classifier.
"""
import copy
import os
import os.path as osp
from collections import OrderedDict
from typing import Optional, Tuple

import torch
from mmengine.config import Config

__all__ = ['is_cls_config', 'cls_student_config', 'export_cls_student']

_DISTILLERS = ('ClsDistiller', 'mmkd.ClsDistiller')
_CLASSIFIERS = ('TorchvisionClassifier', 'mmkd.TorchvisionClassifier')


def is_cls_config(cfg: Config) -> bool:
    """Whether ``cfg.model`` is a ``ClsDistiller`` or a
    ``TorchvisionClassifier`` (what :func:`export_cls_student` exports)."""
    model = cfg.get('model') or {}
    return model.get('type') in _DISTILLERS + _CLASSIFIERS


def cls_student_config(cfg: Config) -> Tuple[dict, str]:
    """The student classifier's config and its checkpoint key prefix.

    Returns:
        tuple[dict, str]: A copy of the student's model config (network
        weights switched off: nothing is downloaded) and ``'student.'`` for
        a distiller, ``''`` for a plain classifier config.

    Raises:
        ValueError: The model is neither, or its student is not a
            ``TorchvisionClassifier``.
    """
    model = cfg.get('model') or {}
    if model.get('type') in _DISTILLERS:
        student, prefix = copy.deepcopy(model['student']), 'student.'
    elif model.get('type') in _CLASSIFIERS:
        student, prefix = copy.deepcopy(model), ''
    else:
        raise ValueError(
            f"expected a ClsDistiller or TorchvisionClassifier config, got "
            f"model type {model.get('type')!r}; segmentation students are "
            f'exported by mmkd.apis.export_student')
    if student.get('type') not in _CLASSIFIERS:
        raise ValueError(
            f"the student is a {student.get('type')!r}; only "
            f'TorchvisionClassifier students export to a torchvision '
            f'state_dict')
    student = dict(student)
    student['weights'] = None
    student['checkpoint'] = None
    student['init_cfg'] = None
    return student, prefix


def _build(student_cfg: dict):
    from mmengine.registry import DefaultScope

    import mmkd  # noqa: F401  registers TorchvisionClassifier
    from mmkd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmkd'):
        return MODELS.build(copy.deepcopy(student_cfg))


def export_cls_student(config: str,
                       checkpoint: str,
                       out_dir: str,
                       cfg_options: Optional[dict] = None,
                       name: str = 'student') -> Tuple[str, str]:
    """Write ``<out_dir>/<name>.pth`` (a torchvision ``state_dict``) and
    ``<out_dir>/<name>.json`` (how to build the network).

    Args:
        config (str): The training config (a ``ClsDistiller`` or a
            ``TorchvisionClassifier``).
        checkpoint (str): A checkpoint of that model (path or URL), read
            weights-only.
        out_dir (str): Output directory (created if needed).
        cfg_options (dict, optional): Overrides merged into the config.
        name (str): Base name of the output files.

    Returns:
        tuple[str, str]: Paths of the weights and of the JSON sidecar.

    Raises:
        ValueError: Not a classification config, or the checkpoint has no
            weights of its student.
        RuntimeError: The weights do not fit the student, or the plain
            network does not reproduce the student's logits.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    from mmkd.models.classifiers import build_torchvision_model
    from mmkd.utils.atomic_io import atomic_torch_save, atomic_write_json
    from mmkd.version import __version__

    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    student_cfg, prefix = cls_student_config(cfg)

    ckpt = _load_checkpoint(checkpoint, map_location='cpu')
    state = ckpt.get('state_dict', ckpt)
    if prefix:
        from .student import split_student_state
        state = split_student_state(ckpt, checkpoint, prefix)
    classifier = _build(student_cfg)
    try:
        classifier.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f'{checkpoint} does not fit the student of '
                           f'{config}: {err}') from err
    classifier.eval()
    plain_state = OrderedDict(
        (k, v.detach().clone().contiguous())
        for k, v in classifier.state_dict().items())

    # The plain network must load the export strictly and agree exactly.
    net = build_torchvision_model(
        classifier.model_name, classifier.arch, classifier.num_classes,
        **classifier.model_kwargs)
    net.load_state_dict(plain_state, strict=True)
    net.eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        if not torch.equal(net(x), classifier(x, mode='tensor')):
            raise RuntimeError(
                'the exported weights do not reproduce the student\'s '
                'logits in the plain torchvision network')

    meta = dict(ckpt.get('meta') or {})
    dataset_meta = meta.get('dataset_meta') or {}
    dp = dict(student_cfg.get('data_preprocessor') or {})
    if classifier.model_name is not None:
        build = dict(
            builder='torchvision.models.get_model',
            model_name=classifier.model_name,
            num_classes=classifier.num_classes,
            kwargs=classifier.model_kwargs)
    else:
        build = dict(
            builder='mmkd.models.classifiers.ScalableResNet',
            arch=classifier.arch,
            num_classes=classifier.num_classes,
            kwargs=classifier.model_kwargs)
    sidecar = dict(
        format='torchvision state_dict (torch.load(..., weights_only=True)'
        ' then model.load_state_dict)',
        build=build,
        classes=[str(c) for c in dataset_meta.get('classes') or []] or None,
        input=dict(
            mean=dp.get('mean'), std=dp.get('std'),
            channel_order='RGB',
            scale='0-255 pixel values (mmpretrain ClsDataPreprocessor); '
            'divide mean and std by 255 for torchvision ToTensor inputs'),
        exported_from=str(checkpoint),
        config=osp.abspath(config),
        epoch=meta.get('epoch'),
        iter=meta.get('iter'),
        mmkd_version=__version__)

    os.makedirs(out_dir, exist_ok=True)
    pth = osp.join(out_dir, f'{name}.pth')
    sidecar_path = osp.join(out_dir, f'{name}.json')
    atomic_torch_save(plain_state, pth)
    atomic_write_json(_jsonable(sidecar), sidecar_path, indent=1)
    return pth, sidecar_path


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, 'item') and not isinstance(obj, torch.Tensor):
        return obj.item()
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return repr(obj)
