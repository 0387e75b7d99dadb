from .cls_distiller import ClsDistiller
from .distill_item import DistillItem
from .distiller import Distiller
from .seg_distiller import SegDistiller

__all__ = ['Distiller', 'DistillItem', 'SegDistiller', 'ClsDistiller']
