"""mmkd's registry nodes.

Each node is a child of the matching mmseg node (itself a child of
mmengine's root), so a config with ``default_scope = 'mmkd'`` resolves mmkd
types first and falls back to mmseg's and then mmengine's. A parent does not
import its lazy ``locations`` when searched through a child, so each node
also lists the mmseg modules that fill its parent.
"""
from mmengine.registry import Registry

try:  # mmpretrain's registries make 'mmpretrain.X' types resolve (ImageNet)
    import mmpretrain.registry  # noqa: F401
except ImportError:  # classification configs then say how to install it
    pass
from mmseg.registry import DATA_SAMPLERS as MMSEG_DATA_SAMPLERS
from mmseg.registry import DATASETS as MMSEG_DATASETS
from mmseg.registry import EVALUATOR as MMSEG_EVALUATOR
from mmseg.registry import HOOKS as MMSEG_HOOKS
from mmseg.registry import INFERENCERS as MMSEG_INFERENCERS
from mmseg.registry import LOG_PROCESSORS as MMSEG_LOG_PROCESSORS
from mmseg.registry import LOOPS as MMSEG_LOOPS
from mmseg.registry import METRICS as MMSEG_METRICS
from mmseg.registry import MODEL_WRAPPERS as MMSEG_MODEL_WRAPPERS
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.registry import \
    OPTIM_WRAPPER_CONSTRUCTORS as MMSEG_OPTIM_WRAPPER_CONSTRUCTORS
from mmseg.registry import OPTIM_WRAPPERS as MMSEG_OPTIM_WRAPPERS
from mmseg.registry import OPTIMIZERS as MMSEG_OPTIMIZERS
from mmseg.registry import PARAM_SCHEDULERS as MMSEG_PARAM_SCHEDULERS
from mmseg.registry import RUNNER_CONSTRUCTORS as MMSEG_RUNNER_CONSTRUCTORS
from mmseg.registry import RUNNERS as MMSEG_RUNNERS
from mmseg.registry import TASK_UTILS as MMSEG_TASK_UTILS
from mmseg.registry import TRANSFORMS as MMSEG_TRANSFORMS
from mmseg.registry import VISBACKENDS as MMSEG_VISBACKENDS
from mmseg.registry import VISUALIZERS as MMSEG_VISUALIZERS
from mmseg.registry import WEIGHT_INITIALIZERS as MMSEG_WEIGHT_INITIALIZERS

RUNNERS = Registry('runner', parent=MMSEG_RUNNERS, scope='mmkd')
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMSEG_RUNNER_CONSTRUCTORS, scope='mmkd')
LOOPS = Registry('loop', parent=MMSEG_LOOPS, scope='mmkd')
HOOKS = Registry(
    'hook',
    parent=MMSEG_HOOKS,
    scope='mmkd',
    locations=['mmkd.engine', 'mmseg.engine.hooks'])
DATASETS = Registry(
    'dataset', parent=MMSEG_DATASETS, scope='mmkd',
    locations=['mmkd.datasets', 'mmseg.datasets'])
DATA_SAMPLERS = Registry(
    'data sampler', parent=MMSEG_DATA_SAMPLERS, scope='mmkd')
TRANSFORMS = Registry(
    'transform', parent=MMSEG_TRANSFORMS, scope='mmkd',
    locations=['mmkd.datasets', 'mmseg.datasets.transforms'])
MODELS = Registry(
    'model',
    parent=MMSEG_MODELS,
    scope='mmkd',
    locations=['mmkd.models', 'mmseg.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMSEG_MODEL_WRAPPERS, scope='mmkd',
    locations=['mmkd.models', 'mmseg.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer',
    parent=MMSEG_WEIGHT_INITIALIZERS,
    scope='mmkd',
    locations=['mmseg.models'])
OPTIMIZERS = Registry(
    'optimizer',
    parent=MMSEG_OPTIMIZERS,
    scope='mmkd',
    locations=['mmseg.engine.optimizers'])
OPTIM_WRAPPERS = Registry(
    'optim_wrapper',
    parent=MMSEG_OPTIM_WRAPPERS,
    scope='mmkd',
    locations=['mmseg.engine.optimizers'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor',
    parent=MMSEG_OPTIM_WRAPPER_CONSTRUCTORS,
    scope='mmkd',
    locations=['mmseg.engine.optimizers'])
PARAM_SCHEDULERS = Registry(
    'parameter scheduler',
    parent=MMSEG_PARAM_SCHEDULERS,
    scope='mmkd',
    locations=['mmseg.engine.schedulers'])
METRICS = Registry(
    'metric',
    parent=MMSEG_METRICS,
    scope='mmkd',
    locations=['mmseg.evaluation'])
EVALUATOR = Registry(
    'evaluator',
    parent=MMSEG_EVALUATOR,
    scope='mmkd',
    locations=['mmseg.evaluation'])
TASK_UTILS = Registry(
    'task util',
    parent=MMSEG_TASK_UTILS,
    scope='mmkd',
    locations=['mmseg.models'])
VISUALIZERS = Registry(
    'visualizer',
    parent=MMSEG_VISUALIZERS,
    scope='mmkd',
    locations=['mmseg.visualization'])
VISBACKENDS = Registry(
    'vis_backend',
    parent=MMSEG_VISBACKENDS,
    scope='mmkd',
    locations=['mmseg.visualization'])
LOG_PROCESSORS = Registry(
    'log_processor',
    parent=MMSEG_LOG_PROCESSORS,
    scope='mmkd',
    locations=['mmseg.visualization'])
INFERENCERS = Registry(
    'inferencer', parent=MMSEG_INFERENCERS, scope='mmkd')
