"""Distiller for mmseg segmentors."""
from typing import Optional, Tuple

import torch
from torch import Tensor, nn

from mmkd.registry import MODELS
from .distiller import Distiller


@MODELS.register_module()
class SegDistiller(Distiller):
    """Distil an mmseg segmentor into another.

    The task parts of :class:`Distiller` for semantic segmentation: labels
    come from ``gt_sem_seg`` (``B x H x W`` long, after the data
    preprocessor's padding with ``seg_pad_val``), the valid-pixel mask is
    ``label != ignore_index`` (the student decode head's, 255 by default;
    padded pixels carry ``seg_pad_val`` = 255 too), and the attributes
    mmseg's ``SegTTAModel`` and visualisers read (``out_channels``,
    ``num_classes``, ``align_corners``, ``decode_head``) come from the
    segmentor that predicts. See :class:`Distiller` for the arguments.
    """

    def check_models(self) -> None:
        for role, model in (('student', self.student),
                            ('teacher', self.teacher)):
            if not hasattr(model, 'decode_head'):
                raise TypeError(
                    f'SegDistiller: the {role} ({type(model).__name__}) is '
                    f'not an mmseg segmentor (it has no decode_head); use '
                    f'ClsDistiller for classifiers, and a segmentation '
                    f'{role} for a segmentation student')

    def teacher_tensor_forward(self, inputs: Tensor):
        """mmseg's ``_forward`` (the tensor mode, without the dispatch)."""
        return self.teacher._forward(inputs)

    @property
    def ignore_index(self) -> int:
        """The student decode head's ``ignore_index`` (255 by default)."""
        return int(getattr(self.student.decode_head, 'ignore_index', 255))

    def targets(self, data_samples) -> Tuple[Optional[Tensor],
                                             Optional[Tensor]]:
        if not data_samples or 'gt_sem_seg' not in data_samples[0]:
            return None, None
        target = torch.stack([ds.gt_sem_seg.data for ds in data_samples
                              ]).squeeze(1).long()
        return target, target != self.ignore_index

    # mmseg's SegTTAModel and visualisers read these from the segmentor.
    @property
    def out_channels(self) -> int:
        """``out_channels`` of the segmentor that predicts."""
        return self.predictor.out_channels

    @property
    def num_classes(self) -> int:
        """``num_classes`` of the segmentor that predicts."""
        return self.predictor.num_classes

    @property
    def align_corners(self) -> bool:
        """``align_corners`` of the segmentor that predicts."""
        return self.predictor.align_corners

    @property
    def decode_head(self) -> nn.Module:
        """``decode_head`` of the segmentor that predicts."""
        return self.predictor.decode_head
