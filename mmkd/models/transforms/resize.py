"""Resize a feature map to the spatial size of the other side's feature."""
import torch.nn.functional as F
from torch import Tensor, nn

from mmkd.registry import MODELS

MODES = ('bilinear', 'nearest', 'bicubic', 'area')


@MODELS.register_module()
class Resize(nn.Module):
    """Interpolate a ``B x C x h x w`` map to the reference's ``H x W``.

    The reference is the other side's feature (for a student transform,
    the teacher's feature after the teacher transforms). A map that already
    has the reference's size is returned as is.

    Args:
        mode (str): ``'bilinear'`` (default), ``'nearest'``, ``'bicubic'``
            or ``'area'``.
        align_corners (bool): Passed to ``F.interpolate`` for the modes
            that take it. Defaults to False.
    """

    needs_reference = True

    def __init__(self, mode: str = 'bilinear', align_corners: bool = False):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f'Resize: mode must be one of {MODES}, got '
                             f'{mode!r}')
        self.mode = mode
        self.align_corners = align_corners

    def forward(self, x: Tensor, reference: Tensor) -> Tensor:
        if x.dim() != 4 or reference.dim() != 4:
            raise ValueError(
                f'Resize works on B x C x H x W maps, got {tuple(x.shape)} '
                f'and reference {tuple(reference.shape)}')
        size = reference.shape[-2:]
        if x.shape[-2:] == size:
            return x
        kwargs = {} if self.mode in ('nearest', 'area') else dict(
            align_corners=self.align_corners)
        return F.interpolate(x, size=size, mode=self.mode, **kwargs)

    def extra_repr(self) -> str:
        return f'mode={self.mode!r}, align_corners={self.align_corners}'
