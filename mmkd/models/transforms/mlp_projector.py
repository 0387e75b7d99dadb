"""MLP projector (Linear-BN-ReLU-Linear) for per-sample embeddings."""
from typing import Optional

from mmengine.model import BaseModule
from torch import Tensor, nn

from mmkd.registry import MODELS


@MODELS.register_module()
class MLPProjector(BaseModule):
    """``Linear -> BatchNorm1d -> ReLU -> Linear`` on ``B x D`` embeddings.

    The projector of DLKD (Ding et al., TNNLS 2022) and of contrastive
    distillation in general: it maps a student embedding to the teacher's
    dimension. Like every student transform it trains with the student and
    is not exported. ``in_dim`` and ``out_dim`` may be left out: the
    distiller infers them from the probed shapes (this transform's input
    and the other side's feature).

    Args:
        in_dim (int): Input embedding size.
        out_dim (int): Output size (the teacher's embedding size).
        hidden_dim (int, optional): Hidden size. Defaults to ``out_dim``.

    Shape:
        - Input: :math:`(B, D_{in})`
        - Output: :math:`(B, D_{out})`
    """

    infer_from_shapes = {'in_dim': 'in', 'out_dim': 'reference'}

    def __init__(self,
                 in_dim: int,
                 out_dim: int,
                 hidden_dim: Optional[int] = None,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg=init_cfg)
        hidden_dim = hidden_dim or out_dim
        self.in_dim, self.out_dim = in_dim, out_dim
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.BatchNorm1d(hidden_dim),
            nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        if x.dim() != 2 or x.shape[1] != self.in_dim:
            hint = (" (add dict(type='GlobalAvgPool') before it to pool a "
                    'feature map)' if x.dim() == 4 else '')
            raise ValueError(
                f'MLPProjector expects (B, {self.in_dim}) embeddings, got '
                f'{tuple(x.shape)}{hint}')
        return self.net(x)
