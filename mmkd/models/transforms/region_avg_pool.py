"""Average pooling of a feature map into per-region embeddings."""
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import Tensor

from mmkd.registry import MODELS


@MODELS.register_module()
class RegionAvgPool(BaseModule):
    """Average a ``B x C x H x W`` map over a ``grid x grid`` partition into
    ``(B * grid * grid) x C`` region embeddings.

    The "pooled region embedding" that per-sample methods (DLKD, IRG) may
    use for segmentation instead of one embedding per image: each cell of
    an adaptive ``grid x grid`` partition of the map (as
    ``F.adaptive_avg_pool2d`` cuts it) becomes one sample, so a batch of
    ``B`` images gives ``B * grid**2`` samples, ordered image by image and,
    within an image, row by row. Student and teacher take the same grid, so
    row ``k`` of both sides is the same region of the same image whatever
    their map sizes. ``grid=1`` is :class:`GlobalAvgPool`.

    Args:
        grid (int): Cells per side. Defaults to 2.

    Shape:
        - Input: :math:`(B, C, H, W)`
        - Output: :math:`(B \\cdot g^2, C)` with :math:`g` = ``grid``
    """

    def __init__(self, grid: int = 2):
        super().__init__()
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
            raise ValueError(
                f'RegionAvgPool grid must be a positive int, got {grid!r}; '
                f'e.g. grid=4 for a 4x4 partition of the map')
        self.grid = grid

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 4:
            raise ValueError(
                f'RegionAvgPool expects a feature map (B, C, H, W), got '
                f'{tuple(x.shape)}; for embeddings that are already '
                f'(B, C) drop the transform')
        g = self.grid
        if x.shape[2] < g or x.shape[3] < g:
            raise ValueError(
                f'RegionAvgPool grid={g} needs a map of at least {g}x{g}, '
                f'got {x.shape[2]}x{x.shape[3]}; use a smaller grid or an '
                f'earlier layer')
        pooled = F.adaptive_avg_pool2d(x, g)  # B x C x g x g
        return pooled.permute(0, 2, 3, 1).reshape(-1, x.shape[1])

    def extra_repr(self) -> str:
        return f'grid={self.grid}'
