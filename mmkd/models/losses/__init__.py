"""Distillation losses.

Each loss is a pure function (formula, reference and shapes in its
docstring) plus a thin module on :class:`.base.DistillLoss`, registered in
``mmkd.registry.MODELS``, that multiplies it by ``loss_weight``. Modules
are called as ``loss(student, teacher, **kwargs)`` with exactly the
keywords their traits declare (``target=`` for ``requires_target``,
``valid_mask=`` with ``mask_invalid=True``). Shared machinery:
``base.py`` (the base class), ``utils.py`` (input checks),
``grid_cells.py`` / ``cell_grams.py`` (per-cell Gram losses),
``dist_utils.py`` (global-batch gathering).
"""
from .at_loss import ATLoss, at_loss
from .base import DistillContext, DistillLoss
from .ccs_loss import CCSLoss, ccs_inter_loss, ccs_intra_loss
from .cls_kd_loss import ClsKDLoss, cls_kd_loss
from .cwd_loss import ChannelWiseDivergence, cwd_loss
from .dist_utils import gather_with_grad
from .dlkd_loss import DLKDLoss, dlkd_align_loss, dlkd_corr_loss
from .fitnet_loss import FitNetsLoss, fitnet_loss
from .ickd_loss import ICKDLoss, ickd_loss, ickd_loss_reference
from .irg_loss import (IRGEdgeLoss, IRGPositionEdgeLoss,
                       IRGTransformationLoss, IRGVertexLoss, irg_edge_loss,
                       irg_position_edge_loss, irg_transformation_loss,
                       irg_vertex_loss)
from .kd_loss import KDLoss, kd_loss
from .mgd_loss import MatchingGuidedLoss

__all__ = [
    'DistillLoss', 'DistillContext', 'gather_with_grad', 'at_loss', 'ATLoss',
    'ccs_intra_loss', 'ccs_inter_loss', 'CCSLoss', 'cls_kd_loss',
    'ClsKDLoss', 'cwd_loss', 'ChannelWiseDivergence', 'dlkd_align_loss',
    'dlkd_corr_loss', 'DLKDLoss', 'fitnet_loss', 'FitNetsLoss', 'ickd_loss',
    'ickd_loss_reference', 'ICKDLoss', 'irg_vertex_loss', 'irg_edge_loss',
    'irg_transformation_loss', 'irg_position_edge_loss', 'IRGVertexLoss',
    'IRGEdgeLoss', 'IRGPositionEdgeLoss', 'IRGTransformationLoss', 'kd_loss',
    'KDLoss', 'MatchingGuidedLoss'
]
