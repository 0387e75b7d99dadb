"""Profiles of the efficacy protocol: the same stages and methods on other
data sizes and models.

A profile is a config file in ``configs/quickstart/profiles/`` (e.g.
``gpu256.py``: 256 px data, ResNet-50 teacher, ResNet-18 student, bf16).
:func:`load_profile` reads it and :func:`apply_profile` rewrites a stage's
config (a quickstart config, after loading) to it: the plain teacher's
model becomes the profile's ``teacher_model``, the student alone's its
``student_model``, a distiller's student and teacher both; every loader's
pipeline keeps its steps at the profile's ``img_scale`` and ``crop_size``
(or becomes the profile's ``train_pipeline`` / ``test_pipeline`` where it
defines them), its worker settings follow the profile, and so does the
optimiser wrapper's type. The distillation items, weight rules and recipe
are left as the method's config states them: connectors infer their
channels, so one method config serves every profile.

The default profile (``None``) is the quickstart's own: nothing changes.
"""
import copy
import glob
import os.path as osp
from typing import List, Optional

from mmengine.config import Config

from .student import is_distiller_config

__all__ = [
    'PROFILE_KEYS', 'available_profiles', 'load_profile', 'apply_profile',
    'profile_data'
]

#: What a profile file must define.
PROFILE_KEYS = ('data', 'data_root', 'protocol_dir', 'pretext', 'labels',
                'teacher_model', 'student_model', 'img_scale', 'crop_size',
                'train_loader', 'val_loader', 'optim_wrapper')


def _profile_dir() -> str:
    from .quickstart_config import quickstart_config_dir
    return osp.join(quickstart_config_dir(), 'profiles')


def available_profiles() -> List[str]:
    """Names of the profile files in ``configs/quickstart/profiles/``."""
    return sorted(
        osp.splitext(osp.basename(p))[0]
        for p in glob.glob(osp.join(_profile_dir(), '*.py')))


def load_profile(name: Optional[str]) -> Optional[Config]:
    """The profile ``name`` (a file name in ``configs/quickstart/profiles/``
    without ``.py``, or a path to such a file); None for None.

    Raises:
        ValueError: An unknown name, or a file missing a key of
            :data:`PROFILE_KEYS`.
    """
    if name is None:
        return None
    path = name if name.endswith('.py') else osp.join(_profile_dir(),
                                                      name + '.py')
    if not osp.isfile(path):
        raise ValueError(f'unknown profile {name!r}: choose from '
                         f'{available_profiles()} (configs/quickstart/'
                         'profiles/) or give the path of a profile file')
    profile = Config.fromfile(path)
    missing = [k for k in PROFILE_KEYS if k not in profile]
    if missing:
        raise ValueError(f'profile file {path} does not define {missing}; '
                         f'see configs/quickstart/profiles/gpu256.py')
    profile.name = osp.splitext(osp.basename(path))[0]
    return profile


def profile_data(profile: Optional[Config],
                 tiny: bool = False) -> Optional[dict]:
    """The synthetic generator's arguments under ``profile`` (None for
    None: the quickstart's own); with ``tiny``, a handful of the profile's
    images (a pipeline check)."""
    from .quickstart_config import QUICKSTART_TINY_DATA
    if profile is None:
        return None
    data = profile.data.to_dict()
    if tiny:
        data.update(num_train=QUICKSTART_TINY_DATA['num_train'],
                    num_val=QUICKSTART_TINY_DATA['num_val'])
    return data


_AMP = ('AmpOptimWrapper', 'mmengine.AmpOptimWrapper')


def _accelerated() -> bool:
    from mmengine.device import get_device
    return get_device() != 'cpu'


def _innermost(dataset: dict) -> dict:
    while 'pipeline' not in dataset and isinstance(
            dataset.get('dataset'), dict):
        dataset = dataset['dataset']  # a wrapper (repeat, balance)
    return dataset


def _pipeline(profile: Config, pipeline: list, train: bool) -> list:
    """``pipeline`` (a stage's) under ``profile``: the profile's own
    ``train_pipeline`` / ``test_pipeline`` where it defines one, otherwise
    the same steps with every ``scale`` set to the profile's ``img_scale``
    and every ``crop_size`` to its ``crop_size``."""
    own = profile.get('train_pipeline' if train else 'test_pipeline')
    if own is not None:
        return copy.deepcopy(own)
    steps = copy.deepcopy(pipeline)
    for step in steps:
        if 'scale' in step:
            step['scale'] = tuple(profile.img_scale)
        if 'crop_size' in step:
            step['crop_size'] = tuple(profile.crop_size)
    return steps


def apply_profile(cfg: Config, stage: str, profile: Optional[Config]) -> None:
    """Rewrite a quickstart stage's config (in place) to ``profile``.

    Args:
        cfg (Config): The stage's config as loaded.
        stage (str): ``'teacher'``, ``'baseline'`` or a method.
        profile (Config, optional): :func:`load_profile`'s; None changes
            nothing.
    """
    if profile is None:
        return
    teacher = copy.deepcopy(profile.teacher_model.to_dict())
    student = copy.deepcopy(profile.student_model.to_dict())
    if is_distiller_config(cfg):
        cfg.model.student = student
        cfg.model.teacher = teacher
        if cfg.model.get('data_preprocessor') is not None:
            cfg.model.data_preprocessor = copy.deepcopy(
                student['data_preprocessor'])
    else:
        cfg.model = teacher if stage == 'teacher' else student
    cfg.data_preprocessor = copy.deepcopy(student['data_preprocessor'])
    cfg.crop_size = tuple(profile.crop_size)
    train = _innermost(cfg.train_dataloader.dataset)
    train.pipeline = _pipeline(profile, train.pipeline, train=True)
    cfg.train_dataloader.update(copy.deepcopy(profile.train_loader))
    from .quickstart_config import config_datasets
    others = [d for d in config_datasets(cfg)
              if d is not cfg.train_dataloader.dataset]
    for dataset in others:
        inner = _innermost(dataset)
        inner.pipeline = _pipeline(profile, inner.pipeline, train=False)
    for key in ('val_dataloader', 'test_dataloader'):
        if cfg.get(key, None):
            cfg[key].update(copy.deepcopy(profile.val_loader))
    wrapper = copy.deepcopy(profile.optim_wrapper.to_dict())
    if wrapper.get('type') in _AMP and not _accelerated():
        # mmengine's AmpOptimWrapper runs on an accelerator only: on a CPU
        # the profile trains in float32 (a pipeline check, not its numbers)
        wrapper = dict(type='OptimWrapper')
    cfg.optim_wrapper.update(wrapper)
    if cfg.get('train_pipeline', None) is not None:
        cfg.train_pipeline = _pipeline(profile, cfg.train_pipeline, True)
    if cfg.get('test_pipeline', None) is not None:
        cfg.test_pipeline = _pipeline(profile, cfg.test_pipeline, False)
