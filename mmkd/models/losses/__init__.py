"""Distillation losses.

Each loss is a pure function (formula, reference and shapes in its
docstring) plus a thin ``nn.Module`` registered in ``mmkd.registry.MODELS``
that multiplies it by ``loss_weight``. Modules are called as
``loss(student, teacher, **kwargs)``; those with ``requires_target = True``
also take ``target=`` (B x H x W labels).
"""
from .at_loss import ATLoss, at_loss
from .cwd_loss import ChannelWiseDivergence, cwd_loss
from .fitnet_loss import FitNetsLoss, fitnet_loss
from .ickd_loss import ICKDLoss, ickd_loss, ickd_loss_reference
from .kd_loss import KDLoss, kd_loss

__all__ = [
    'ickd_loss', 'ickd_loss_reference', 'ICKDLoss', 'kd_loss', 'KDLoss',
    'cwd_loss', 'ChannelWiseDivergence', 'at_loss', 'ATLoss', 'fitnet_loss',
    'FitNetsLoss'
]
