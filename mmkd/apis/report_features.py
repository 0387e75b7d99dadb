"""Models and features for the quickstart report.

* :func:`load_model`: a config's model (segmentor or distiller) with
  the weights of a checkpoint, in eval mode;
* :func:`icc_matrix`: the inter-channel correlation (ICC) of a feature map;
* :func:`fit_connector`: the "before distillation" reference, a connector
  fitted on the frozen features of a student trained alone.

The ICC of a feature map ``X`` (``C x HW`` per image) is its Gram matrix
``X X^T`` normalised to a cosine similarity,
``R_ij = G_ij / sqrt(G_ii G_jj)``, averaged over images: a ``C x C``
matrix in ``[-1, 1]`` that says which channels fire together.
"""
from typing import Optional, Tuple

import numpy as np
import torch

from mmkd.utils.tool_utils import strip_pretrained
from .student import is_distiller_config

__all__ = ['load_model', 'icc_matrix', 'fit_connector']


def _build(model_cfg):
    from mmengine.registry import DefaultScope

    from mmkd.registry import MODELS
    with DefaultScope.overwrite_default_scope('mmkd'):
        return MODELS.build(model_cfg)


def load_model(config: str, checkpoint: str):
    """Build a config's model (segmentor or distiller) with weights.

    A distiller's teacher comes from the distiller checkpoint (which holds
    it), so ``teacher_checkpoint`` is not read.
    """
    import copy

    from mmengine.config import Config
    from mmengine.runner import load_checkpoint

    cfg = Config.fromfile(config)
    model_cfg = copy.deepcopy(cfg.model)
    if is_distiller_config(cfg):
        model_cfg.teacher_checkpoint = None
    strip_pretrained(model_cfg)  # every weight comes from the checkpoint
    import logging

    from mmengine.logging import MMLogger
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel(logging.ERROR)  # no "SegDistiller: no checkpoint"
    try:
        model = _build(model_cfg)
    finally:
        logger.setLevel(level)
    load_checkpoint(model, checkpoint, map_location='cpu', strict=True,
                    logger='silent')
    model.eval()
    return model


def _val_batch(config: str, data_root: str, num: int) -> Tuple[dict, dict]:
    """The first ``num`` validation images of a config's val set, collated
    (not yet preprocessed), and the dataset's metainfo."""
    from mmengine.config import Config
    from mmengine.dataset import pseudo_collate
    from mmengine.registry import DefaultScope

    from mmkd.registry import DATASETS

    cfg = Config.fromfile(config)
    ds_cfg = cfg.val_dataloader.dataset
    ds_cfg.data_root = data_root
    with DefaultScope.overwrite_default_scope('mmkd'):
        dataset = DATASETS.build(ds_cfg)
    num = min(num, len(dataset))
    return pseudo_collate([dataset[i] for i in range(num)]), dataset.metainfo


class _Capture:
    """Capture the output of one submodule during a forward pass."""

    def __init__(self, model, name: str):
        self.module = model.get_submodule(name)
        self.value = None

    def __enter__(self):
        self.handle = self.module.register_forward_hook(self._hook)
        return self

    def _hook(self, module, inputs, output):
        self.value = output.detach()

    def __exit__(self, *exc):
        self.handle.remove()


@torch.no_grad()
def _features(segmentor, inputs: torch.Tensor, name: str) -> torch.Tensor:
    with _Capture(segmentor, name) as cap:
        segmentor._forward(inputs)
    if cap.value is None:
        raise RuntimeError(f'{name} did not run in the forward pass')
    return cap.value


# --------------------------------------------------------------------------
# inter-channel correlation
# --------------------------------------------------------------------------
def icc_matrix(feat: torch.Tensor, eps: float = 1e-8) -> np.ndarray:
    """Normalised Gram (cosine ICC) of ``B x C x H x W``, averaged over B."""
    x = feat.double().flatten(2)  # B x C x HW
    gram = x @ x.transpose(1, 2)
    norm = gram.diagonal(dim1=1, dim2=2).clamp_min(eps).sqrt()
    icc = gram / (norm[:, :, None] * norm[:, None, :])
    return icc.mean(0).numpy()


def fit_connector(student: torch.Tensor,
                  teacher: torch.Tensor,
                  loss_fn,
                  steps: int = 200,
                  lr: float = 0.02,
                  seed: int = 0) -> torch.Tensor:
    """Fit a fresh ConvBNConnector from frozen student features to the
    teacher's with ``loss_fn`` (e.g. the ICKD loss); return the mapped
    student features (connector in eval mode).

    This is the "before distillation" reference: what a connector alone
    can do with the features of a student trained without the teacher.
    """
    import torch.nn.functional as F

    from mmkd.models.transforms import ConvBNConnector
    if teacher.shape[-2:] != student.shape[-2:]:
        teacher = F.interpolate(teacher, size=student.shape[-2:],
                                mode='bilinear', align_corners=False)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        conn = ConvBNConnector(student.shape[1], teacher.shape[1])
    opt = torch.optim.Adam(conn.parameters(), lr=lr)
    with torch.enable_grad():
        conn.train()
        for _ in range(steps):
            opt.zero_grad()
            loss = loss_fn(conn(student), teacher)
            loss.backward()
            opt.step()
        # BN running statistics of the final weights, then eval mode.
        conn.conv.bn.reset_running_stats()
        conn.conv.bn.momentum = None
        with torch.no_grad():
            conn(student)
    conn.eval()
    with torch.no_grad():
        return conn(student)


def _icc_feature(cfg_path: str) -> Tuple[Optional[str], str, str,
                                         Optional[dict]]:
    """``(item name, student module, teacher module, loss cfg)`` of the
    first ICKD distill item of a config (``(None, ..., None)`` if none)."""
    from mmengine.config import Config

    from mmkd.models.recorders import FeatureSpec
    cfg = Config.fromfile(cfg_path)
    for item in cfg.model.get('distill', []):
        if item['loss']['type'] == 'ICKDLoss':
            s = FeatureSpec.parse(item['student']).module
            t = FeatureSpec.parse(item['teacher']).module
            return item['name'], s, t, dict(item['loss'])
    return None, 'decode_head.bottleneck', 'decode_head.bottleneck', None
