"""Transforms applied to recorded features before a distillation loss."""
from .conv_bn_connector import ConvBNConnector
from .global_avg_pool import GlobalAvgPool
from .mlp_projector import MLPProjector
from .region_avg_pool import RegionAvgPool
from .resize import Resize

__all__ = [
    'ConvBNConnector', 'GlobalAvgPool', 'MLPProjector', 'RegionAvgPool',
    'Resize'
]
