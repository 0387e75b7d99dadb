from .seg_distiller import DistillItem, SegDistiller

__all__ = ['DistillItem', 'SegDistiller']
