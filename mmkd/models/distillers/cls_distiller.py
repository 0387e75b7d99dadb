"""Distiller for image classifiers."""
from typing import Optional, Tuple

import torch
from torch import Tensor

from mmkd.registry import MODELS
from .distiller import Distiller


@MODELS.register_module()
class ClsDistiller(Distiller):
    """Distil an image classifier into another.

    Student and teacher are any mmengine ``BaseModel`` with ``loss`` /
    ``predict`` / ``tensor`` modes whose data samples carry ``gt_label``
    (mmpretrain's ``ImageClassifier``, mmkd's ``TorchvisionClassifier``).
    Labels for the losses that want them are the ``B`` class indices;
    there is no valid-pixel mask. See :class:`Distiller` for the
    arguments.
    """

    def check_models(self) -> None:
        for role, model in (('student', self.student),
                            ('teacher', self.teacher)):
            if hasattr(model, 'decode_head'):
                raise TypeError(
                    f'ClsDistiller: the {role} ({type(model).__name__}) is a '
                    f'segmentor; use SegDistiller for segmentation, and a '
                    f'classification {role} for a classification student')
            for method in ('loss', 'predict'):
                if not callable(getattr(model, method, None)):
                    raise TypeError(
                        f'ClsDistiller: the {role} '
                        f'({type(model).__name__}) has no {method}() '
                        f'method; it must be an mmengine BaseModel with '
                        f"loss / predict / tensor modes (e.g. "
                        f"type='TorchvisionClassifier')")

    def targets(self, data_samples) -> Tuple[Optional[Tensor],
                                             Optional[Tensor]]:
        if not data_samples or 'gt_label' not in data_samples[0]:
            return None, None
        labels = [ds.gt_label.reshape(-1)[:1] for ds in data_samples]
        return torch.cat(labels).long(), None
