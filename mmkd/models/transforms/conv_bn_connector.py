"""Connector mapping a student feature to the teacher's channel count."""
from typing import Optional

from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from torch import Tensor

from mmkd.registry import MODELS


@MODELS.register_module()
class ConvBNConnector(BaseModule):
    """``k×k`` conv (no bias) + norm, no activation, on the student side.

    The default connector of methods.md: it is trained with the student and
    is not part of the exported student. ``in_channels`` and
    ``out_channels`` may be left out of the config: the distiller fills
    them in from the probed shapes (``in_channels`` from this transform's
    input, ``out_channels`` from the other side's feature).

    Args:
        in_channels (int): Student feature channels ``C'``.
        out_channels (int): Teacher feature channels ``C``.
        kernel_size (int): Convolution kernel size. Defaults to 1.
        norm_cfg (dict, optional): Norm layer config; None for a plain conv
            (which then gets a bias). Defaults to ``dict(type='BN')``.
        act_cfg (dict, optional): Activation config. Defaults to None.
        init_cfg (dict, optional): Initialisation config.

    Shape:
        - Input: :math:`(B, C', H, W)`
        - Output: :math:`(B, C, H, W)`
    """

    infer_from_shapes = {'in_channels': 'in', 'out_channels': 'reference'}

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 kernel_size: int = 1,
                 norm_cfg: Optional[dict] = dict(type='BN'),
                 act_cfg: Optional[dict] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.conv = ConvModule(
            in_channels,
            out_channels,
            kernel_size,
            padding=kernel_size // 2,
            norm_cfg=norm_cfg,
            act_cfg=act_cfg)

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__} expects (B, {self.in_channels}, H, W) '
                f'input, got {tuple(x.shape)}')
        return self.conv(x)
