"""Every config under ``configs/`` loads, builds on CPU and keeps its promises.

For each top-level config (everything but the ``_base_`` folders):

* it loads with ``mmengine.Config.fromfile`` and uses ``default_scope='mmkd'``;
* its model builds on CPU with no network access: pretrained backbones and
  ``init_cfg`` are stripped and the distillers' ``teacher_checkpoint`` is set
  to None (``SegDistiller`` still runs its build-time probe forward, which
  checks the hooked layer names and the connector channels);
* a distillation config's teacher is exactly a teacher config's model (apart
  from ``pretrained``), and its student, data and schedule are exactly those
  of a student-only baseline config, so that every gain is measured against
  a real baseline.

The Pascal VOC configs (all but ``configs/quickstart/``, which runs on the
synthetic data) also point every dataset at ``data/VOCdevkit/VOC2012``, and
their distillers carry the mmseg model-zoo teacher URLs.
"""
import copy
import math
from pathlib import Path

import pytest
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope

from cfg_helpers import plain, student_recipe

REPO = Path(__file__).resolve().parents[1]
CONFIG_DIR = REPO / 'configs'
DATA_ROOT = 'data/VOCdevkit/VOC2012'

DEEPLABV3_URL = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3/'
    'deeplabv3_r101-d8_512x512_20k_voc12aug/'
    'deeplabv3_r101-d8_512x512_20k_voc12aug_20200617_010932-8d13832f.pth')
PSPNET_URL = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/pspnet/'
    'pspnet_r101-d8_512x512_20k_voc12aug/'
    'pspnet_r101-d8_512x512_20k_voc12aug_20200617_102003-4aef3c9a.pth')
DEEPLABV3PLUS_URL = (
    'https://download.openmmlab.com/mmsegmentation/v0.5/deeplabv3plus/'
    'deeplabv3plus_r101-d8_512x512_20k_voc12aug/'
    'deeplabv3plus_r101-d8_512x512_20k_voc12aug_20200617_102345-c7ff3d56.pth')
# decode head type of each zoo teacher
ZOO_TEACHERS = {
    DEEPLABV3_URL: 'ASPPHead',
    PSPNET_URL: 'PSPHead',
    DEEPLABV3PLUS_URL: 'DepthwiseSeparableASPPHead'
}
# Output stride of each map an ICKD config may distil (512x512 crops): the
# ASPP/PSP bottleneck at stride 8, DeepLabV3+'s decoder at stride 4.
ICKD_FEATURE_STRIDES = {
    'decode_head.bottleneck': 8,
    'decode_head.sep_bottleneck': 4
}

# Keys that make up a training recipe: a distillation config must share
# them with its student-only baseline.
RECIPE_KEYS = ('train_dataloader', 'val_dataloader', 'test_dataloader',
               'val_evaluator', 'test_evaluator', 'optim_wrapper',
               'param_scheduler', 'train_cfg', 'val_cfg', 'test_cfg',
               'default_hooks', 'auto_scale_lr', 'env_cfg', 'randomness')

# Segmentation configs; the ImageNet ones (configs/imagenet/) have their
# own tests in tests/test_imagenet_configs.py, and the efficacy protocol's
# profiles (configs/quickstart/profiles/, overrides, not runnable configs)
# in tests/test_quickstart_profile.py.
CONFIGS = sorted(
    p.relative_to(CONFIG_DIR).as_posix() for p in CONFIG_DIR.rglob('*.py')
    if not {'_base_', 'profiles'} & set(p.relative_to(CONFIG_DIR).parts)
    and not p.relative_to(CONFIG_DIR).as_posix().startswith('imagenet/'))

# The quickstart configs run on mmkd's synthetic data (their own tests are in
# tests/tools/); the VOC-specific checks skip them.
# configs/extend/ distils into students mmkd has no baseline for (a
# SegFormer without auxiliary head, its own optimiser): built here, the
# rest is checked by tests/test_extend_config.py.
EXTEND_CONFIGS = [c for c in CONFIGS if c.startswith('extend/')]
VOC_CONFIGS = [c for c in CONFIGS if not c.startswith('quickstart/')
               and c not in EXTEND_CONFIGS]
DISTILLER_TYPES = ('SegDistiller', 'ClsDistiller')

_cache = {}


def load(name: str) -> Config:
    """Load ``configs/<name>`` once per session (a fresh copy each time)."""
    if name not in _cache:
        _cache[name] = Config.fromfile(str(CONFIG_DIR / name))
    return copy.deepcopy(_cache[name])


def strip_pretrained(cfg):
    """Recursively drop ``init_cfg`` and set ``pretrained=None``, in place.

    Walks dicts and lists, so it reaches the backbones of plain segmentors
    and of the student and teacher inside a distiller. Returns ``cfg``.
    """
    if isinstance(cfg, dict):
        cfg.pop('init_cfg', None)
        if 'pretrained' in cfg:
            cfg['pretrained'] = None
        for value in cfg.values():
            strip_pretrained(value)
    elif isinstance(cfg, (list, tuple)):
        for value in cfg:
            strip_pretrained(value)
    return cfg


def offline_model_cfg(cfg: Config) -> ConfigDict:
    """The config's model, made buildable without network access."""
    model = copy.deepcopy(cfg.model)
    if model.get('type') in DISTILLER_TYPES:
        model.teacher_checkpoint = None
        # A smaller build-time probe (the D8 maps are 4x4) keeps the R101
        # builds quick on CPU; it checks the same names and channels. Models
        # trained on crops of 64 px or less (the quickstart's) keep their
        # own crop: they are quick, and a 8x8 region grid needs its 8x8 maps.
        size = (model.get('data_preprocessor') or {}).get('size')
        if not size or max(size) > 64:
            model.probe_input_shape = (1, 3, 32, 32)
    return strip_pretrained(model)


def is_distiller(cfg: Config) -> bool:
    return cfg.model.get('type') in DISTILLER_TYPES


def iter_datasets(cfg: Config):
    """Yield every dataset dict of the train/val/test dataloaders."""

    def walk(ds):
        if ds.get('type') == 'ConcatDataset':
            for sub in ds.datasets:
                yield from walk(sub)
        else:
            yield ds

    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        yield from walk(cfg[key].dataset)


def build(model_cfg):
    """Build as a user script would: mmkd's registry in the mmkd scope."""
    from mmkd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmkd'):
        return MODELS.build(model_cfg)


def baselines():
    """Student-only configs: ``baselines/*`` and ``*/baseline_*``."""
    return [
        c for c in CONFIGS if c.startswith('baselines/')
        or c.rsplit('/', 1)[-1].startswith('baseline_')
    ]


def teachers():
    """Teacher training configs: ``teachers/*`` and ``*/teacher_*``."""
    return [
        c for c in CONFIGS if c.startswith('teachers/')
        or c.rsplit('/', 1)[-1].startswith('teacher_')
    ]


def distillers(names=None):
    return [c for c in (names or CONFIGS) if is_distiller(load(c))]


def _module(spec):
    return spec if isinstance(spec, str) else spec['module']


def _ickd_items(cfg):
    return [i for i in cfg.model.distill if i.loss.type == 'ICKDLoss']


def test_config_list():
    # Guard against the parametrisation silently finding nothing.
    assert 'ickd_voc.py' in VOC_CONFIGS
    assert len([c for c in teachers() if c in VOC_CONFIGS]) == 3
    assert len([c for c in baselines() if c in VOC_CONFIGS]) == 6
    assert len(distillers(VOC_CONFIGS)) >= 8


@pytest.mark.parametrize('name', CONFIGS)
def test_loads_with_mmkd_scope(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmkd'
    assert cfg.load_from is None
    if is_distiller(cfg):
        assert plain(cfg.model.data_preprocessor) == plain(
            cfg.model.student.data_preprocessor)
        for item in cfg.model.distill:
            assert 'loss' in item['name']


@pytest.mark.parametrize('name', VOC_CONFIGS)
def test_voc_data_and_recipe(name):
    cfg = load(name)
    datasets = list(iter_datasets(cfg))
    assert datasets
    for ds in datasets:
        assert ds.type == 'PascalVOCDataset'
        assert ds.data_root == DATA_ROOT
    assert cfg.train_dataloader.batch_size == 4  # x 4 GPUs = 16
    assert cfg.auto_scale_lr == dict(enable=False, base_batch_size=16)
    assert cfg.val_evaluator.iou_metrics == ['mIoU']
    # The model (or, for a distiller, each network) predicts VOC's classes.
    nets = [cfg.model.student, cfg.model.teacher] if is_distiller(cfg) \
        else [cfg.model]
    for net in nets:
        assert net.decode_head.num_classes == 21
        assert net.auxiliary_head.num_classes == 21
        assert net.data_preprocessor.size == (512, 512)


@pytest.mark.parametrize('name', CONFIGS)
def test_builds_offline(name):
    cfg = load(name)
    model_cfg = offline_model_cfg(cfg)
    model = build(model_cfg)
    if is_distiller(cfg):
        assert type(model).__name__ == 'SegDistiller'
        names = [item['name'] for item in cfg.model.distill]
        assert [item.name for item in model.distill_items] == names
        from mmkd.models.transforms import ConvBNConnector
        for item, built in zip(cfg.model.distill, model.distill_items):
            wanted = [t for t in item.get('student_transforms') or []
                      if t['type'] == 'ConvBNConnector']
            got = [m for chain in built.student_transforms for m in chain
                   if isinstance(m, ConvBNConnector)]
            assert len(got) == len(wanted) * len(built.student_specs)
        assert all(not p.requires_grad for p in model.teacher.parameters())
    else:
        assert type(model).__name__ == 'EncoderDecoder'


def test_strip_pretrained_reaches_nested_models():
    cfg = load('ickd_voc.py')
    model_cfg = offline_model_cfg(cfg)
    assert model_cfg.teacher_checkpoint is None
    assert model_cfg.student.pretrained is None
    assert model_cfg.teacher.pretrained is None
    text = repr(plain(model_cfg))
    assert 'init_cfg' not in text
    assert 'open-mmlab://' not in text and 'mmcls://' not in text
    # The loaded config itself is untouched.
    assert cfg.model.student.pretrained == 'open-mmlab://resnet18_v1c'


@pytest.mark.parametrize('name',
                         [c for c in teachers() if c in VOC_CONFIGS])
def test_teacher_config_names_zoo_checkpoint(name):
    cfg = load(name)
    assert cfg.model.type == 'EncoderDecoder'
    assert cfg.model.pretrained == 'open-mmlab://resnet101_v1c'
    assert cfg.model.backbone.depth == 101
    assert ZOO_TEACHERS[cfg.teacher_checkpoint] == cfg.model.decode_head.type
    assert cfg.train_cfg.max_iters == 20000  # the zoo models' schedule


def _without_pretrained(model_cfg):
    d = plain(model_cfg)
    d.pop('pretrained', None)
    return d


@pytest.mark.parametrize('name', distillers())
def test_distiller_teacher_is_a_teacher_config(name):
    cfg = load(name)
    teacher = plain(cfg.model.teacher)
    # No ImageNet download for a network whose weights all come from the
    # teacher checkpoint.
    assert teacher.get('pretrained') is None
    assert cfg.teacher_checkpoint == cfg.model.teacher_checkpoint
    matches = [
        t for t in teachers()
        if _without_pretrained(load(t).model) == _without_pretrained(teacher)
    ]
    assert len(matches) == 1, f'{name}: teacher matches {matches}'
    if name in VOC_CONFIGS:
        url = cfg.model.teacher_checkpoint
        assert ZOO_TEACHERS.get(url) == teacher['decode_head']['type'], url
        assert load(matches[0]).teacher_checkpoint == url


@pytest.mark.parametrize(
    'name', [c for c in distillers() if c not in EXTEND_CONFIGS])
def test_distiller_shares_a_baseline_recipe(name):
    cfg = load(name)
    matches = []
    for base_name in baselines():
        base = load(base_name)
        if plain(base.model) != plain(cfg.model.student):
            continue
        if all(plain(base.get(k)) == student_recipe(cfg, k)
               for k in RECIPE_KEYS):
            matches.append(base_name)
    assert len(matches) == 1, (
        f'{name}: student/recipe matches no single baseline ({matches})')


@pytest.mark.parametrize(
    'name', [c for c in distillers(VOC_CONFIGS) if _ickd_items(load(c))])
def test_ickd_weight_is_alpha_per_pixel(name):
    """ICKD configs weigh the paper-form loss by ickd_alpha / p^2.

    ``p`` is the number of pixels of a grid cell on the distilled map
    (512x512 crop at output stride 8: 64x64; DeepLabV3+'s decoder output at
    stride 4: 128x128), see configs/ickd_voc.py.
    """
    cfg = load(name)
    (item, ) = _ickd_items(cfg)
    h, w = cfg.ickd_feature_size
    stride = ICKD_FEATURE_STRIDES[_module(item.student)]
    assert _module(item.teacher) == _module(item.student)
    assert (h, w) == tuple(s // stride for s in cfg.crop_size)
    n, m = item.loss.grid_size
    assert h % n == 0 and w % m == 0
    cell_pixels = (h // n) * (w // m)
    assert cfg.ickd_cell_pixels == cell_pixels
    assert math.isclose(item.loss.loss_weight,
                        cfg.ickd_alpha / cell_pixels**2)
    assert item.loss.normalize is None  # the paper's form


def test_ickd_grid_variants_change_only_the_grid():
    flagship = load('ickd_voc.py')
    (item, ) = _ickd_items(flagship)
    assert item.loss.grid_size == (4, 4)
    variants = [
        c for c in CONFIGS if c.startswith('ickd/ickd-s')
        and c.endswith('_deeplabv3-r101_deeplabv3-r18_voc12aug-512x512_40k.py')
    ]
    assert len(variants) >= 2

    def without_grid(cfg):
        d = plain(cfg.to_dict())
        for key in ('ickd_grid', 'ickd_cell_pixels'):
            d.pop(key, None)
        d['model']['distill'][0]['loss'].pop('grid_size')
        d['model']['distill'][0]['loss'].pop('loss_weight')
        return d

    ref = without_grid(flagship)
    for name in variants:
        cfg = load(name)
        (v_item, ) = _ickd_items(cfg)
        n, m = v_item.loss.grid_size
        assert name.startswith(f'ickd/ickd-s{n}x{m}_')
        assert cfg.ickd_alpha == flagship.ickd_alpha
        # the weight follows the cell size: (n*m/16)^2 times the 4x4 one
        assert math.isclose(v_item.loss.loss_weight,
                            item.loss.loss_weight * (n * m / 16)**2)
        assert without_grid(cfg) == ref, name


@pytest.mark.parametrize('student', ['r18', 'mbv2'])
def test_ickd_paper_pair_has_the_paper_grids(student):
    """The ICKD paper's own VOC pair (DeepLabV3+ R101 -> R18 / MobileNetV2):
    its four grids, each config the 4x4 one with only the grid (and the
    weight that follows the cell size) changed."""
    suffix = (f'_deeplabv3plus-r101_deeplabv3plus-{student}'
              '_voc12aug-512x512_40k.py')
    names = {c for c in CONFIGS if c.startswith('ickd/ickd-s')
             and c.endswith(suffix)}
    grids = [(1, 1), (4, 4), (16, 16), (32, 32)]
    assert names == {f'ickd/ickd-s{n}x{m}{suffix}' for n, m in grids}
    ref_cfg = load(f'ickd/ickd-s4x4{suffix}')
    assert ref_cfg.model.teacher_checkpoint == DEEPLABV3PLUS_URL
    (ref_item, ) = _ickd_items(ref_cfg)

    def without_grid(cfg):
        d = plain(cfg.to_dict())
        for key in ('ickd_grid', 'ickd_cell_pixels'):
            d.pop(key, None)
        d['model']['distill'][0]['loss'].pop('grid_size')
        d['model']['distill'][0]['loss'].pop('loss_weight')
        return d

    ref = without_grid(ref_cfg)
    for n, m in grids:
        cfg = load(f'ickd/ickd-s{n}x{m}{suffix}')
        (item, ) = _ickd_items(cfg)
        assert tuple(item.loss.grid_size) == (n, m)
        assert math.isclose(item.loss.loss_weight,
                            ref_item.loss.loss_weight * (n * m / 16)**2)
        assert without_grid(cfg) == ref


def test_flagship_recipe():
    cfg = load('ickd_voc.py')
    assert cfg.train_cfg.max_iters == 40000
    assert cfg.train_dataloader.dataset.type == 'ConcatDataset'
    (item, ) = cfg.model.distill
    assert item.name == 'loss_ickd'
    assert [t.type for t in item.student_transforms] == [
        'ConvBNConnector', 'Resize']
    assert item.student == item.teacher
    assert cfg.model.student.backbone.depth == 18
    assert cfg.model.teacher.backbone.depth == 101
    assert cfg.model.teacher_checkpoint == DEEPLABV3_URL
    assert [h.type for h in cfg.custom_hooks] == [
        'NonFiniteLossHook', 'ExactResumeHook', 'TeacherEvalHook']


def test_voc_pipelines_check_their_data_and_export_plain_loaders(tmp_path):
    """VOC configs load through mmkd's checked loaders; a bad label names
    its file; the exported student config uses mmcv's / mmseg's loaders."""
    import numpy as np
    from mmcv.transforms import Compose
    from PIL import Image

    from mmkd.apis.export import student_config
    from mmkd.datasets import BadDataError
    cfg = load('ickd_voc.py')
    types = [t['type'] for t in cfg.train_pipeline[:2]]
    assert types == ['CheckedLoadImageFromFile', 'CheckedLoadAnnotations']
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / 'a.jpg')
    label = np.zeros((8, 8), np.uint8)
    label[2, 3] = 42  # VOC has 21 classes
    Image.fromarray(label).save(tmp_path / 'a.png')
    with DefaultScope.overwrite_default_scope('mmkd'):
        loaders = Compose(copy.deepcopy(cfg.train_pipeline[:2]))
    with pytest.raises(BadDataError, match=r'a\.png: label values 42'):
        loaders(dict(img_path=str(tmp_path / 'a.jpg'),
                     seg_map_path=str(tmp_path / 'a.png'), seg_fields=[],
                     reduce_zero_label=False))
    text = student_config(cfg).pretty_text
    assert 'Checked' not in text and 'num_classes=21' in text
    assert "type='LoadAnnotations'" in text
