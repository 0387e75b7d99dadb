"""List the modules of a model that a distill item can record.

:func:`inspect_model` runs one dummy batch through a model (eval mode, no
grad) and returns a :class:`ModelLayers`: every candidate module (backbone
stages and their blocks, neck, decode-head features, logits) with its
output shape and whether an in-place op modifies the output after the
module returned (found with the distiller's own
:class:`~mmkd.models.recorders.FeatureRecorder`: a captured tensor whose
version counter changed, :meth:`FeatureRecorder.is_stale`). Candidates that
play a role in distillation are tagged: ``stage1`` ... ``stageN``,
``neck1`` ..., ``feature`` (the input of the classifier: the decode head's
last feature map, or a classifier's embedding) and ``logits``.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor, nn

from mmkd.models.recorders import FeatureRecorder, FeatureSpec
from .candidates import Candidate, ModelLayers
from .roles import drop_tuple_aliases, tag_classifier, tag_stages

#: Modules never listed: they return their input or compute losses.
SKIP_TYPES = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d,
              nn.AlphaDropout, nn.Identity)
#: Top-level modules of segmentors and classifiers that are heads.
HEADS = ('neck', 'decode_head', 'auxiliary_head', 'head')


# ----------------------------------------------------------------------
# candidates
# ----------------------------------------------------------------------
def _is_container(module: nn.Module) -> bool:
    """A ``ModuleList`` / ``ModuleDict`` without a forward of its own."""
    return isinstance(module, (nn.ModuleList, nn.ModuleDict)) and \
        type(module).forward is nn.Module.forward


def _depths(model: nn.Module) -> Dict[str, int]:
    """Module name -> nesting depth, not counting levels below a
    ``ModuleList`` / ``ModuleDict`` (``backbone.layers.0.1.0`` of a
    transformer is as deep as ``backbone.layer1`` of a ResNet)."""
    modules = dict(model.named_modules())
    depths = {'': 0}
    for name in modules:  # parents come before their children
        if name:
            parent = name.rsplit('.', 1)[0] if '.' in name else ''
            depths[name] = depths[parent] + (
                0 if _is_container(modules[parent]) else 1)
    return depths


def candidate_modules(model: nn.Module, depth: int = 2) -> List[str]:
    """Names of the modules worth listing (before the forward).

    The backbone and its non-leaf modules down to ``depth`` levels below it
    (stages and their blocks for ResNets; patch embeddings and blocks for
    transformers), and from ``depth=3`` on their leaves too (a block's
    convs and BNs); heads (``neck``, ``decode_head``, ``auxiliary_head``,
    ``head``) and their direct children; for a model without a backbone
    (a torchvision classifier), its top-level children and their non-leaf
    children down to ``depth``. Dropouts, identities and losses are left
    out.
    """
    depths = _depths(model)
    children = dict(model.named_children())
    names = []
    for name, module in model.named_modules():
        if not name or _is_container(module) or isinstance(
                module, SKIP_TYPES) or 'loss' in name.rsplit('.', 1)[-1]:
            continue
        top = name.split('.')[0]
        if top == 'data_preprocessor':
            continue
        leaf = not any(True for _ in module.children())
        d = depths[name]
        if top == 'backbone':  # leaves (conv, BN) only when asked
            keep = d == 1 or (d <= 1 + depth and (not leaf or depth > 2))
        elif top in HEADS:
            keep = d <= 2
        elif 'backbone' in children:
            keep = d == 1
        else:
            keep = d == 1 or (not leaf and d <= depth)
        if keep:
            names.append(name)
    return names


class _Signatures:
    """Forward hooks recording which modules ran, the order candidates
    returned in (blocks before their stage), and the shapes and storage of
    candidates' outputs (no tensors are kept)."""

    def __init__(self, model: nn.Module, names: Sequence[str],
                 input_of: Optional[str] = None):
        self.ran: set = set()
        self.order: List[str] = []
        self.outputs: Dict[str, object] = {}
        self.input = None  # signature of ``input_of``'s first argument
        self.handles = []
        wanted = set(names)
        for name, module in model.named_modules():
            self.handles.append(
                module.register_forward_hook(self._hook(name, name in
                                                        wanted)))
            if name == input_of:
                self.handles.append(module.register_forward_pre_hook(
                    lambda module, args: setattr(self, 'input',
                                                 _signature(args[0]))))

    def _hook(self, name, wanted):

        def hook(module, args, output):
            self.ran.add(name)
            if wanted:
                if name not in self.outputs:
                    self.order.append(name)
                self.outputs[name] = _signature(output)

        return hook

    def remove(self):
        for handle in self.handles:
            handle.remove()


def _signature(value):
    if isinstance(value, Tensor):
        return (tuple(value.shape), value.data_ptr(), tuple(value.stride()))
    if isinstance(value, (tuple, list)):
        return [_signature(v) if isinstance(v, Tensor) else None
                for v in value]
    return None


def _classifier_layer(model: nn.Module, task: str) -> Optional[str]:
    """Name of the layer producing the logits."""
    names = dict(model.named_modules())
    if task == 'seg':
        return 'decode_head.conv_seg' if 'decode_head.conv_seg' in names \
            else None
    linears = [n for n, m in names.items() if isinstance(m, nn.Linear)]
    return linears[-1] if linears else None


@torch.no_grad()
def inspect_model(model: nn.Module,
                  size: Tuple[int, int],
                  label: str = 'model',
                  depth: int = 2,
                  batch_size: int = 1) -> ModelLayers:
    """Run one dummy batch through ``model`` and list its candidates.

    Args:
        model (nn.Module): An mmengine model with a ``tensor`` mode (an
            mmseg segmentor, an mmpretrain or mmkd classifier), in eval.
        size (tuple[int, int]): ``(H, W)`` of the dummy input.
        label (str): ``'teacher'``, ``'student'`` or ``'model'``.
        depth (int): How deep to list backbone modules (see
            :func:`candidate_modules`).
        batch_size (int): Batch of the dummy input. Defaults to 1.

    Returns:
        ModelLayers: The candidates in the order they ran.
    """
    task = 'seg' if hasattr(model, 'decode_head') else 'cls'
    names = candidate_modules(model, depth)
    classifier = _classifier_layer(model, task)
    if classifier and classifier not in names:
        names.append(classifier)
    specs = [FeatureSpec(module=n) for n in names]
    if classifier:
        specs.append(FeatureSpec(module=classifier, source='input'))
    depths = _depths(model)
    shape = (batch_size, 3, *size)
    recorder = FeatureRecorder(model, specs, label)
    signatures = _Signatures(model, names, classifier)
    try:
        with recorder.recording():
            try:
                model(torch.randn(*shape), mode='tensor')
            except Exception as err:
                raise RuntimeError(
                    f'the {label} ({type(model).__name__}) failed on a '
                    f'dummy input of shape {shape}: {err}. Check its config '
                    f'(channels between backbone and head) or the input '
                    f'size (--size)') from err
        layers = ModelLayers(label, _describe(model), task, shape)
        for name in signatures.order:
            if name in signatures.outputs:
                layers.candidates += _candidates(
                    name, signatures.outputs[name], recorder, depths[name])
        by_storage = _link_aliases(layers.candidates)
        # a module whose descendants ran did run (mmseg calls
        # decode_head.forward directly, past the hooks)
        layers.not_run = [
            n for n in names if not any(
                r == n or r.startswith(n + '.') for r in signatures.ran)
        ]
        if classifier in signatures.outputs and isinstance(
                signatures.input, tuple):  # a tensor went in
            tag_classifier(layers, classifier, signatures.input, recorder,
                           by_storage)
        tag_stages(layers, model)
        drop_tuple_aliases(layers)
    finally:
        signatures.remove()
        recorder.remove()
    return layers


def _candidates(name, signature, recorder, depth) -> List[Candidate]:
    out = []
    items = [(None, signature)] if isinstance(signature, tuple) else list(
        enumerate(signature or []))
    for index, sig in items:
        if sig is None:
            continue
        candidate = Candidate(
            name=name if index is None else f'{name}[{index}]',
            spec=name if index is None else dict(module=name, index=index),
            shape=sig[0],
            inplace_after=recorder.is_stale(
                FeatureSpec(module=name, index=index)),
            depth=depth,
            storage=sig)
        out.append(candidate)
    return out


def _link_aliases(candidates: List[Candidate]) -> Dict[tuple, str]:
    """Mark candidates holding the same tensor as another one.

    The canonical name of a tensor is a module's own output rather than an
    element of a tuple, and the shallowest such module (the stage rather
    than its last block). Returns storage -> canonical name.
    """
    groups: Dict[tuple, List[Candidate]] = {}
    for c in candidates:
        groups.setdefault(c.storage, []).append(c)
    canonical = {}
    for key, group in groups.items():
        best = min(group, key=lambda c: ('[' in c.name, c.depth))
        canonical[key] = best.name
        for c in group:
            if c is not best:
                c.same_as = best.name
    return canonical


def _describe(model: nn.Module) -> str:
    parts = [type(model).__name__]
    for name in ('backbone', 'neck', 'decode_head', 'head'):
        sub = getattr(model, name, None)
        if isinstance(sub, nn.Module):
            parts.append(f'{name}={type(sub).__name__}')
    return parts[0] + (f" ({', '.join(parts[1:])})" if len(parts) > 1 else
                       '')
