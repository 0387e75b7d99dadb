"""Tag the candidates :func:`mmkd.analysis.inspect_model` found with the
roles that pair teacher and student layers: ``stageN`` (the backbone's
multi-scale maps), ``neckN``, ``feature`` (the classifier's input) and
``logits`` (its output)."""
from typing import List

from torch import nn

from mmkd.models.recorders import FeatureSpec
from .candidates import Candidate, ModelLayers


def drop_tuple_aliases(layers: ModelLayers) -> None:
    """Leave out tuple elements (``backbone[3]``) that a module's own
    output (``backbone.layer4``) already lists."""
    layers.candidates = [
        c for c in layers.candidates
        if not ('[' in c.name and c.same_as and '[' not in c.same_as)
    ]


def tag_classifier(layers, classifier, signature, recorder, by_storage):
    """Tag the classifier's output ``logits`` and its input ``feature``
    (the candidate holding that tensor, or a ``source='input'`` spec)."""
    logits = next((c for c in layers.candidates if c.name == classifier),
                  None)
    if logits is not None:
        logits.role = 'logits'
    spec = FeatureSpec(module=classifier, source='input')
    key = signature
    alias = by_storage.get(key)
    source = next((c for c in layers.candidates if c.name == alias), None)
    if source is not None and source.role is None:
        source.role = 'feature'
        return
    at = layers.candidates.index(logits) if logits is not None else len(
        layers.candidates)
    layers.candidates.insert(
        at,
        Candidate(
            name=f'{classifier} (input)',
            spec=dict(module=classifier, source='input'),
            shape=signature[0],
            inplace_after=recorder.is_stale(spec),
            role='feature',
            same_as=alias,
            depth=99))


def tag_stages(layers: ModelLayers, model: nn.Module) -> None:
    """Tag the backbone's (or top-level) multi-scale maps as stages."""
    outs = [c for c in layers.candidates
            if c.name.startswith('backbone[') and c.kind == 'map']
    if not outs:
        top = [c for c in layers.candidates if c.depth == 1 and c.kind ==
               'map' and '[' not in c.name and c.role is None and any(
                   True for _ in model.get_submodule(c.name).children())]
        if len(top) == 1:  # one Sequential holding the stages
            top = [c for c in layers.candidates if c.depth == 2
                   and c.name.startswith(top[0].name + '.')
                   and c.kind == 'map']
        outs = _last_of_each_size(top)
    for i, c in enumerate(outs, 1):
        target = c
        if c.same_as:  # prefer the module's own name (a plain spec)
            target = next((o for o in layers.candidates
                           if o.name == c.same_as), c)
        target.role = f'stage{i}'
    necks = [c for c in layers.candidates
             if c.name.startswith('neck[') and c.kind == 'map']
    for i, c in enumerate(necks, 1):
        c.role = f'neck{i}'


def _last_of_each_size(cands: List[Candidate]) -> List[Candidate]:
    """The last map of each run of equal (C, H, W): one per stage."""
    out: List[Candidate] = []
    for c in cands:
        if out and out[-1].shape[1:] == c.shape[1:]:
            out[-1] = c
        else:
            out.append(c)
    return out
