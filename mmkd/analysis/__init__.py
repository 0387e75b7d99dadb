"""Model analysis for writing distill configs (``tools/inspect_layers.py``).

:mod:`.config` finds the models of a config and the input size and builds
them without pretrained weights; :mod:`.layers` runs one dummy forward
through a built model and lists its :mod:`.candidates` (shapes, in-place
flags), which :mod:`.roles` tags (stages, feature, logits); :mod:`.pairs`
pairs teacher and student by role and proposes distill items for a method;
:mod:`.text` formats all of it.
"""
from .candidates import Candidate, ModelLayers
from .config import build_for_inspection, input_size, model_configs
from .layers import inspect_model
from .pairs import METHODS, LayerPair, pair_layers, propose
from .text import format_layers, format_model, format_pairs, format_proposal

__all__ = [
    'Candidate', 'ModelLayers', 'build_for_inspection', 'inspect_model',
    'input_size', 'model_configs', 'METHODS', 'LayerPair', 'pair_layers',
    'propose', 'format_layers', 'format_model', 'format_pairs',
    'format_proposal'
]
