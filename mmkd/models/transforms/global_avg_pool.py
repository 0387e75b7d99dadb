"""Global average pooling of a feature map into per-sample embeddings."""
from mmengine.model import BaseModule
from torch import Tensor

from mmkd.registry import MODELS


@MODELS.register_module()
class GlobalAvgPool(BaseModule):
    """Average a ``B x C x H x W`` map over space into ``B x C``.

    A parameter-free transform for either side of a distill item, e.g.
    the embeddings of DLKD and IRG. 2-D inputs (already embeddings) pass
    through unchanged, so the same item works on a classifier's pooled
    features.

    Args:
        keepdim (bool): Return ``B x C x 1 x 1`` instead of ``B x C``.
            Defaults to False.

    Shape:
        - Input: :math:`(B, C, H, W)` or :math:`(B, C)`
        - Output: :math:`(B, C)` (or :math:`(B, C, 1, 1)` with keepdim)
    """

    def __init__(self, keepdim: bool = False):
        super().__init__()
        self.keepdim = keepdim

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() == 2:
            return x[:, :, None, None] if self.keepdim else x
        if x.dim() != 4:
            raise ValueError(
                f'GlobalAvgPool expects (B, C, H, W) or (B, C) input, got '
                f'{tuple(x.shape)}')
        return x.mean(dim=(2, 3), keepdim=self.keepdim)
