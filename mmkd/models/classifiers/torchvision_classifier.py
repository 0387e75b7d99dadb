"""Any torchvision classification model as an mmengine ``BaseModel``."""
import logging
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from mmengine.model import BaseModel
from torch import Tensor, nn

from mmkd.registry import MODELS
from .scalable_resnet import ScalableResNet

__all__ = ['TorchvisionClassifier', 'IMAGENET_DATA_PREPROCESSOR',
           'build_torchvision_model', 'torchvision_weights_url']

#: mmpretrain's ImageNet preprocessing (the statistics torchvision's
#: weights were trained with): BGR images from ``LoadImageFromFile`` turned
#: to RGB, then normalised.
IMAGENET_DATA_PREPROCESSOR = dict(
    type='mmpretrain.ClsDataPreprocessor',
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    to_rgb=True)

_MMPRETRAIN_HELP = ("install it beside mmkd's stack: pip install "
                    "mmpretrain==1.2.0 'importlib_metadata<8' model-index "
                    '(see tools/setup_env.sh)')


def _mmpretrain_data_sample():
    """mmpretrain's ``DataSample`` (importing mmpretrain registers its
    scope, so ``'mmpretrain.X'`` type names resolve)."""
    try:
        import mmpretrain.registry  # noqa: F401
        from mmpretrain.structures import DataSample
    except ImportError as err:
        raise ImportError(f'TorchvisionClassifier needs mmpretrain '
                          f'({err}); {_MMPRETRAIN_HELP}') from err
    return DataSample


def build_torchvision_model(model_name: Optional[str] = None,
                            arch: Optional[dict] = None,
                            num_classes: int = 1000,
                            **kwargs) -> nn.Module:
    """Build a torchvision classifier by name, or a :class:`ScalableResNet`.

    Args:
        model_name (str, optional): A torchvision classification builder,
            e.g. ``'resnet18'`` (``torchvision.models.list_models(
            torchvision.models)`` lists them).
        arch (dict, optional): Instead of ``model_name``: the arguments of
            :class:`ScalableResNet` (``block``, ``layers``, ``width``).
        num_classes (int): Outputs of the classifier.
        **kwargs: Passed to the torchvision builder.

    Returns:
        nn.Module: The network, randomly initialised.
    """
    import torchvision

    if (model_name is None) == (arch is None):
        raise ValueError('give exactly one of model_name (a torchvision '
                         "model, e.g. 'resnet18') and arch (a ScalableResNet"
                         " dict, e.g. dict(block='BasicBlock', layers=[1, 1,"
                         ' 1, 1], width=16))')
    if arch is not None:
        return ScalableResNet(num_classes=num_classes, **dict(arch), **kwargs)
    names = torchvision.models.list_models(module=torchvision.models)
    if model_name not in names:
        raise ValueError(
            f'{model_name!r} is not a torchvision classification model; '
            f'choose from {names}')
    return torchvision.models.get_model(
        model_name, weights=None, num_classes=num_classes, **kwargs)


def torchvision_weights_url(model_name: str, weights: str) -> str:
    """URL of torchvision's weights ``weights`` of ``model_name``.

    Args:
        model_name (str): A torchvision builder name, e.g. ``'resnet34'``.
        weights (str): A member of its weights enum: ``'IMAGENET1K_V1'``,
            ``'DEFAULT'`` or ``'ResNet34_Weights.IMAGENET1K_V1'``.
    """
    import torchvision

    enum = torchvision.models.get_model_weights(model_name)
    try:
        return enum.verify(weights).url
    except (KeyError, ValueError):
        raise ValueError(
            f'{model_name} has no weights {weights!r}; torchvision offers '
            f"{[w.name for w in enum]} (or 'DEFAULT')") from None


@MODELS.register_module()
class TorchvisionClassifier(BaseModel):
    """A torchvision classification model with mmengine's three modes.

    The torchvision network's children (and any parameters or buffers it
    holds itself) are the classifier's own, under torchvision's names: a
    ResNet's ``named_modules()`` are ``conv1``, ``layer1`` ... ``layer4``,
    ``avgpool``, ``fc`` and its ``state_dict()`` is torchvision's, so
    feature specs (``'layer4'``, ``'fc'``) and checkpoints carry over
    literally. (The network object shares its module, parameter and buffer
    dicts with the classifier and runs its own ``forward``; a child the
    classifier replaces, e.g. BN by SyncBN, is the one the forward uses.)

    Modes: ``tensor`` returns the logits (``B x K``); ``loss`` returns
    ``dict(loss_cls=...)``, cross-entropy with optional label smoothing
    against ``gt_label`` (or ``gt_score`` soft targets from mmpretrain's
    batch augments); ``predict`` returns mmpretrain ``DataSample`` s with
    ``pred_score`` (softmax) and ``pred_label``, as mmpretrain's
    ``Accuracy`` expects.

    Pretrained weights are loaded by :meth:`init_weights` (mmengine's
    Runner calls it when training starts; call it, or
    :meth:`load_pretrained`, yourself otherwise), weights-only, through
    mmkd's safe loader. Building never touches the network.

    Args:
        model_name (str, optional): torchvision builder, e.g. ``'resnet18'``,
            ``'resnet34'``, ``'resnet50'``, ``'mobilenet_v2'``.
        arch (dict, optional): Instead of ``model_name``, a narrow ResNet:
            ``dict(block='BasicBlock', layers=[1, 1, 1, 1], width=16)``
            (see :class:`ScalableResNet`).
        num_classes (int): Number of classes. Defaults to 1000.
        weights (str, optional): torchvision weights of ``model_name``,
            e.g. ``'IMAGENET1K_V1'`` (downloaded once into torch's hub
            cache; needs network the first time).
        checkpoint (str, optional): Path or URL of weights to load instead
            (a torchvision ``state_dict``, an mmengine checkpoint, or an
            exported mmkd student).
        checkpoint_prefix (str, optional): Load only the checkpoint keys
            under this prefix, stripped (``'student.'`` for a distiller's
            checkpoint). Defaults to None (keys as they are).
        label_smoothing (float): Of the cross-entropy. Defaults to 0.
        loss_weight (float): Multiplier of the cross-entropy. Defaults to 1.
        model_kwargs (dict, optional): More arguments of the builder.
        data_preprocessor (dict, optional): Defaults to
            :data:`IMAGENET_DATA_PREPROCESSOR` (mmpretrain's
            ``ClsDataPreprocessor``).
        init_cfg (dict, optional): mmengine initialisation config.
    """

    def __init__(self,
                 model_name: Optional[str] = None,
                 arch: Optional[dict] = None,
                 num_classes: int = 1000,
                 weights: Optional[str] = None,
                 checkpoint: Optional[str] = None,
                 checkpoint_prefix: Optional[str] = None,
                 label_smoothing: float = 0.0,
                 loss_weight: float = 1.0,
                 model_kwargs: Optional[dict] = None,
                 data_preprocessor: Optional[Union[dict, nn.Module]] = None,
                 init_cfg: Optional[dict] = None):
        data_sample = _mmpretrain_data_sample()
        if data_preprocessor is None:
            data_preprocessor = dict(IMAGENET_DATA_PREPROCESSOR)
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self._data_sample = data_sample
        if weights is not None and checkpoint is not None:
            raise ValueError('give weights (torchvision) or checkpoint (a '
                             'path or URL), not both')
        if weights is not None and model_name is None:
            raise ValueError('weights name torchvision weights of a '
                             'model_name; with arch use checkpoint=')
        if not 0.0 <= float(label_smoothing) < 1.0:
            raise ValueError(f'label_smoothing must be in [0, 1), got '
                             f'{label_smoothing}')
        self.model_name = model_name
        self.arch = dict(arch) if arch is not None else None
        self.num_classes = int(num_classes)
        self.weights = weights
        self.checkpoint = checkpoint
        self.checkpoint_prefix = checkpoint_prefix
        self.label_smoothing = float(label_smoothing)
        self.loss_weight = float(loss_weight)
        self.model_kwargs = dict(model_kwargs or {})
        self._pretrained_loaded = False

        net = build_torchvision_model(model_name, self.arch, self.num_classes,
                                      **self.model_kwargs)
        self._adopt(net)

    # ------------------------------------------------------------------
    def _adopt(self, net: nn.Module) -> None:
        """Make ``net``'s children, parameters and buffers our own."""
        for name in list(net._modules) + list(net._parameters) + list(
                net._buffers):
            if name in self._modules or hasattr(type(self), name):
                raise ValueError(
                    f'{type(net).__name__} has a member {name!r} that '
                    f'clashes with TorchvisionClassifier; it cannot be '
                    f'wrapped')
        self._modules.update(net._modules)
        self._parameters.update(net._parameters)
        self._buffers.update(net._buffers)
        self._non_persistent_buffers_set.update(
            net._non_persistent_buffers_set)
        # One set of dicts: replacing a child of either replaces both.
        net._modules = self._modules
        net._parameters = self._parameters
        net._buffers = self._buffers
        net._non_persistent_buffers_set = self._non_persistent_buffers_set
        object.__setattr__(self, 'net', net)  # not registered twice

    def train(self, mode: bool = True) -> 'TorchvisionClassifier':
        super().train(mode)
        self.net.training = mode  # e.g. GoogLeNet's aux logits read it
        return self

    # ------------------------------------------------------------------
    def pretrained_source(self) -> Optional[str]:
        """URL or path :meth:`load_pretrained` reads, or None."""
        if self.weights is not None:
            return torchvision_weights_url(self.model_name, self.weights)
        return self.checkpoint

    def load_pretrained(self) -> None:
        """Load ``weights`` / ``checkpoint`` now (strict, weights-only).

        Raises:
            RuntimeError: The download or the file failed (the message
                says how to work offline), or keys do not match.
        """
        from mmkd.utils.safe_loading import safe_load

        source = self.pretrained_source()
        if source is None:
            return
        try:
            ckpt = safe_load(source, map_location='cpu')
        except FileNotFoundError:
            raise
        except Exception as err:
            if '://' not in source:
                raise
            raise RuntimeError(
                f'could not download {source} ({type(err).__name__}: '
                f'{err}). Without network, copy the file into torch\'s hub '
                f'cache ({torch.hub.get_dir()}/checkpoints) or pass '
                f'checkpoint=<local path>; to start from random weights '
                f'set weights=None.') from err
        state = ckpt.get('state_dict', ckpt) if isinstance(ckpt,
                                                           dict) else ckpt
        if self.checkpoint_prefix:
            n = len(self.checkpoint_prefix)
            state = {k[n:]: v for k, v in state.items()
                     if k.startswith(self.checkpoint_prefix)}
            if not state:
                raise RuntimeError(f'{source} has no keys under prefix '
                                   f'{self.checkpoint_prefix!r}')
        # Checkpoints older than torch 0.4.1 (torchvision's V1 ResNet
        # weights among them) have no BN num_batches_tracked: keep ours.
        own = self.state_dict()
        state = dict(state)
        for key, value in own.items():
            if key.endswith('num_batches_tracked') and key not in state:
                state[key] = value
        missing, unexpected = self._state_key_diff(state)
        if missing or unexpected:
            raise RuntimeError(
                f'{source} does not fit {self._describe()}: missing keys '
                f'{missing[:5]}{"..." if len(missing) > 5 else ""}, '
                f'unexpected keys {unexpected[:5]}'
                f'{"..." if len(unexpected) > 5 else ""}. Check model_name/'
                f'arch and num_classes, or set checkpoint_prefix (e.g. '
                f"'student.').")
        self.load_state_dict(state, strict=True)
        self._pretrained_loaded = True
        print_log(f'{self._describe()}: loaded weights from {source}',
                  logger='current', level=logging.INFO)

    def _state_key_diff(self, state: dict):
        own = set(self.state_dict().keys())
        given = set(state.keys())
        return sorted(own - given), sorted(given - own)

    def _describe(self) -> str:
        what = self.model_name or f'ScalableResNet({self.arch})'
        return f'TorchvisionClassifier({what}, num_classes={self.num_classes})'

    def init_weights(self) -> None:
        """mmengine's initialisation, then the pretrained weights, once."""
        super().init_weights()
        if not self._pretrained_loaded:
            self.load_pretrained()

    # ------------------------------------------------------------------
    def forward(self,
                inputs: Tensor,
                data_samples: Optional[List] = None,
                mode: str = 'tensor'):
        """mmengine's entry point; see the class docstring for the modes."""
        if mode == 'tensor':
            return self.net(inputs)
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        raise RuntimeError(f'Invalid mode "{mode}"; use "tensor", "loss" '
                           f'or "predict"')

    def loss(self, inputs: Tensor, data_samples: Sequence) -> Dict[str,
                                                                   Tensor]:
        """Cross-entropy of the logits against the samples' labels."""
        logits = self.net(inputs)
        return dict(loss_cls=self.loss_by_logits(logits, data_samples))

    def loss_by_logits(self, logits: Tensor, data_samples: Sequence) -> Tensor:
        """Weighted cross-entropy of given logits (used by distillers)."""
        if not data_samples:
            raise ValueError('loss mode needs data_samples with gt_label')
        if 'gt_score' in data_samples[0]:
            target = torch.stack([s.gt_score for s in data_samples])
            target = target.to(logits.device, logits.dtype)
        else:
            target = torch.cat([s.gt_label for s in data_samples])
            target = target.to(logits.device)
        loss = F.cross_entropy(
            logits, target, label_smoothing=self.label_smoothing)
        return self.loss_weight * loss

    def predict(self, inputs: Tensor,
                data_samples: Optional[Sequence] = None) -> List:
        """``DataSample`` s with ``pred_score`` and ``pred_label`` set."""
        logits = self.net(inputs)
        return self.predict_by_logits(logits, data_samples)

    def predict_by_logits(self, logits: Tensor,
                          data_samples: Optional[Sequence] = None) -> List:
        """Turn ``B x K`` logits into ``DataSample`` s."""
        scores = F.softmax(logits.float(), dim=1).detach()
        labels = scores.argmax(dim=1, keepdim=True)
        if data_samples is None:
            data_samples = [self._data_sample() for _ in range(len(scores))]
        for sample, score, label in zip(data_samples, scores, labels):
            sample.set_pred_score(score).set_pred_label(label)
        return list(data_samples)
