"""Capture intermediate features of a model through hooks.

The design follows timm's ``FeatureHooks``: one hook per module, registered
once, storing what the module received (forward *pre*-hook) or returned
(forward hook) while recording is switched on, removed again when the
recorder is closed. On top of that the recorder guarantees that a feature
it hands out is the tensor the module really produced:

* every captured tensor's version counter is remembered; a tensor modified
  in place after capture (an in-place ReLU, ``out += identity``) is never
  returned stale: :meth:`FeatureRecorder.get` raises, naming the module and
  the fix;
* specs with ``clone=True`` are cloned at capture (the distiller's
  build-time probe sets this for every spec it sees modified);
* hooks are objects owned by the recorder, so a ``copy.deepcopy`` of a
  model holding the recorder records into the copy's own storage;
* a module that was replaced after the hooks were registered (e.g. SyncBN
  reverted to BN) is re-resolved by name when the next recording starts.
"""
import difflib
from dataclasses import dataclass, replace
from typing import Any, Dict, Iterable, List, Optional, Tuple, Union

from torch import Tensor, nn

FeatureSpecLike = Union[str, dict, 'FeatureSpec']

SPEC_KEYS = ('module', 'source', 'index', 'call', 'clone')


class StaleFeatureError(RuntimeError):
    """A recorded tensor was modified in place after it was captured."""


@dataclass(frozen=True)
class FeatureSpec:
    """Which tensor of which module to capture.

    Args:
        module (str): Dotted name of the module, as listed by
            ``model.named_modules()``, e.g. ``'backbone.layer4'``.
        source (str): ``'output'`` (what the module returns) or ``'input'``
            (its positional arguments, captured before the module runs).
            Defaults to ``'output'``.
        index (int, optional): Element to take when the captured value is a
            tuple or list (e.g. a backbone returning one map per stage).
            Inputs default to their first argument.
        call (int): Which call to keep when the module runs more than once
            per forward pass (e.g. a ReLU shared inside a residual block);
            Python indexing, ``-1`` keeps the last. Defaults to -1.
        clone (bool, optional): Clone the tensor at capture. None (default)
            lets the distiller's build-time probe decide: specs whose
            tensor a later in-place op modifies are cloned.
    """
    module: str
    source: str = 'output'
    index: Optional[int] = None
    call: int = -1
    clone: Optional[bool] = None

    def __post_init__(self):
        if self.source not in ('input', 'output'):
            raise ValueError(
                f"feature source must be 'input' or 'output', got "
                f'{self.source!r} for module {self.module!r}')

    @classmethod
    def parse(cls, spec: FeatureSpecLike) -> 'FeatureSpec':
        """Build a spec from a module name, a dict or a spec."""
        if isinstance(spec, FeatureSpec):
            return spec
        if isinstance(spec, str):
            return cls(module=spec)
        if isinstance(spec, dict):
            unknown = set(spec) - set(SPEC_KEYS)
            if unknown or 'module' not in spec:
                raise ValueError(
                    f'a feature spec is a module name or a dict with keys '
                    f'module (required), source, index, call, clone; got '
                    f'{dict(spec)!r}')
            return cls(**spec)
        raise TypeError(
            f'a feature spec must be a str or dict, got {type(spec).__name__}')

    @property
    def key(self) -> Tuple:
        """Identity of the captured tensor (``clone`` is a policy, not part
        of the identity)."""
        return (self.module, self.source, self.index, self.call)

    def __str__(self) -> str:
        text = f'{self.module} ({self.source}'
        if self.index is not None:
            text += f'[{self.index}]'
        if self.call != -1:
            text += f', call {self.call}'
        return text + ')'


def unknown_module_message(name: str, valid: Iterable[str],
                           model_name: str = 'model') -> str:
    """Describe an unknown module name and list the closest valid ones."""
    valid = [v for v in valid if v]
    close = difflib.get_close_matches(name, valid, n=5, cutoff=0.4)
    if not close:
        head = name.split('.')[0]
        close = [v for v in valid if v.split('.')[0] == head][:5]
    hint = (f' Closest valid names: {", ".join(close)}.' if close else
            f' Top-level modules: '
            f'{", ".join(sorted({v.split(".")[0] for v in valid}))}.')
    return (f'{model_name} has no module named {name!r}.{hint} '
            f'Valid names are those of {model_name}.named_modules() '
            f'(tools/inspect_layers.py lists them with shapes).')


class _Storage:
    """Records and the recording flag, shared by a recorder and its hooks."""

    def __init__(self, names_sources: Dict[str, set]):
        self.recording = False
        # module name -> source -> list of (value, versions) per call
        self.records: Dict[str, Dict[str, List[Any]]] = {
            name: {source: [] for source in sources}
            for name, sources in names_sources.items()
        }
        # module name -> source -> whether to clone tensors at capture
        self.clone: Dict[str, Dict[str, bool]] = {
            name: {source: False for source in sources}
            for name, sources in names_sources.items()
        }

    def clear(self):
        for sources in self.records.values():
            for calls in sources.values():
                calls.clear()


def _snapshot(value, clone: bool):
    """Return ``(value, versions)``; tensors cloned when asked."""
    if isinstance(value, Tensor):
        if clone:
            value = value.clone()
        return value, value._version
    if isinstance(value, (tuple, list)):
        pairs = [_snapshot(v, clone) for v in value]
        return type(value)(p[0] for p in pairs), tuple(p[1] for p in pairs)
    return value, None


class _CaptureHook:
    """A hook object (not a closure): deep copies follow their storage."""

    def __init__(self, storage: _Storage, name: str, source: str):
        self.storage = storage
        self.name = name
        self.source = source

    def __call__(self, module, args, output=None):
        storage = self.storage
        if not storage.recording:
            return None
        value = args if self.source == 'input' else output
        clone = storage.clone[self.name][self.source]
        storage.records[self.name][self.source].append(
            _snapshot(value, clone))
        return None


class FeatureRecorder:
    """Record inputs or outputs of named submodules during forward passes.

    Hooks are registered on construction and only store tensors inside
    :meth:`recording`, so inference passes hold no extra memory. Call
    :meth:`remove` (or use the recorder as a context manager) to detach the
    hooks.

    Args:
        model (nn.Module): The model whose submodules are hooked.
        specs (Iterable): Feature specs (module names, dicts or
            :class:`FeatureSpec`).
        model_name (str): Name used in error messages, e.g. ``'student'``.

    Raises:
        KeyError: If a spec names a module the model does not have; the
            message lists the closest valid names.

    Example:
        >>> recorder = FeatureRecorder(model, ['backbone.layer4'])
        >>> with recorder.recording():
        ...     model(inputs)
        >>> feat = recorder.get('backbone.layer4')
    """

    def __init__(self, model: nn.Module, specs: Iterable[FeatureSpecLike],
                 model_name: str = 'model'):
        self.model = model
        self.model_name = model_name
        self.specs: List[FeatureSpec] = []
        for spec in specs:
            spec = FeatureSpec.parse(spec)
            if spec.key not in {s.key for s in self.specs}:
                self.specs.append(spec)
        modules = dict(model.named_modules())
        for spec in self.specs:
            if spec.module not in modules:
                raise KeyError(
                    unknown_module_message(spec.module, modules, model_name))
        sources: Dict[str, set] = {}
        for spec in self.specs:
            sources.setdefault(spec.module, set()).add(spec.source)
        self._storage = _Storage(sources)
        for spec in self.specs:
            if spec.clone:
                self._storage.clone[spec.module][spec.source] = True
        # (module name, source) -> (hooked module, hook object)
        self._hooks: Dict[Tuple[str, str], Tuple[nn.Module,
                                                 _CaptureHook]] = {}
        for name, srcs in sources.items():
            for source in sorted(srcs):
                self._attach(name, source, modules[name])

    # ------------------------------------------------------------------
    # hooks
    # ------------------------------------------------------------------
    def _attach(self, name: str, source: str, module: nn.Module) -> None:
        hook = _CaptureHook(self._storage, name, source)
        if source == 'input':
            module.register_forward_pre_hook(hook)
        else:
            module.register_forward_hook(hook)
        self._hooks[(name, source)] = (module, hook)

    @staticmethod
    def _detach(module: nn.Module, hook: _CaptureHook) -> None:
        for hooks in (module._forward_hooks, module._forward_pre_hooks):
            for key in [k for k, v in hooks.items() if v is hook]:
                del hooks[key]

    def _resolve(self) -> None:
        """Re-hook modules replaced since registration (SyncBN revert)."""
        for (name, source), (module, hook) in list(self._hooks.items()):
            try:
                current = self.model.get_submodule(name)
            except AttributeError:
                raise RuntimeError(
                    f'{self.model_name} module {name!r} was removed after '
                    f'its features were hooked; rebuild the distiller '
                    f'after changing the model') from None
            if current is not module:
                self._detach(module, hook)
                self._attach(name, source, current)

    @property
    def num_hooks(self) -> int:
        """Number of hooks currently registered."""
        return len(self._hooks)

    def set_clone(self, spec: FeatureSpecLike, clone: bool = True) -> None:
        """Clone (or not) the tensors captured for ``spec``'s module."""
        spec = FeatureSpec.parse(spec)
        self._storage.clone[spec.module][spec.source] = bool(clone)

    def clones(self, spec: FeatureSpecLike) -> bool:
        """Whether ``spec``'s tensors are cloned at capture."""
        spec = FeatureSpec.parse(spec)
        return self._storage.clone[spec.module][spec.source]

    # ------------------------------------------------------------------
    # recording
    # ------------------------------------------------------------------
    def reset(self) -> None:
        """Drop every recorded value."""
        self._storage.clear()

    def recording(self) -> '_Recording':
        """Context manager: clear old records, then record until exit."""
        return _Recording(self)

    def _lookup(self, spec: FeatureSpec):
        if spec.module not in self._storage.records or (
                spec.source not in self._storage.records[spec.module]):
            raise KeyError(f'{spec} is not recorded by this recorder; '
                           f'recorded: {", ".join(map(str, self.specs))}')
        calls = self._storage.records[spec.module][spec.source]
        if not calls:
            raise RuntimeError(
                f'{self.model_name} module {spec.module!r} did not run during '
                f'the forward pass, so {spec} was not captured. Pick a module '
                f"that the model's inference (tensor-mode) forward uses: the "
                f'build-time probe and the teacher run that forward, so '
                f'modules that only run inside the training loss (auxiliary '
                f'heads) cannot be distilled.')
        try:
            value, versions = calls[spec.call]
        except IndexError:
            raise RuntimeError(
                f'{self.model_name} module {spec.module!r} ran {len(calls)} '
                f'time(s); call={spec.call} is out of range') from None
        index = spec.index
        if spec.source == 'input' and index is None:
            index = 0  # positional arguments always come as a tuple
        if index is not None:
            if not isinstance(value, (tuple, list)):
                raise RuntimeError(
                    f'{spec}: index={index} was given but the captured value '
                    f'is a {type(value).__name__}, not a tuple or list')
            if not -len(value) <= index < len(value):
                raise RuntimeError(
                    f'{spec}: index={index} is out of range for a '
                    f'{type(value).__name__} of {len(value)} elements')
            value, versions = value[index], versions[index]
        if not isinstance(value, Tensor):
            kind = (f'a {type(value).__name__} of {len(value)} elements'
                    if isinstance(value, (tuple, list)) else
                    f'a {type(value).__name__}')
            raise RuntimeError(
                f'{spec} captured {kind}, not a tensor; set `index` in the '
                f'feature spec to pick one element')
        return value, versions

    def is_stale(self, spec: FeatureSpecLike) -> bool:
        """Whether ``spec``'s tensor was modified in place after capture."""
        value, version = self._lookup(FeatureSpec.parse(spec))
        return value._version != version

    def get(self, spec: FeatureSpecLike) -> Tensor:
        """Return the tensor recorded for ``spec`` in the last recording.

        Raises:
            StaleFeatureError: If the tensor was modified in place after it
                was captured (the value would be wrong).
            RuntimeError: If the module did not run during the recording or
                the captured value is not a tensor (set ``index``).
        """
        spec = FeatureSpec.parse(spec)
        value, version = self._lookup(spec)
        if value._version != version:
            raise StaleFeatureError(
                f'{self.model_name} feature {spec} was modified in place '
                f'after it was captured (e.g. by an inplace ReLU or a '
                f'residual `+=` that follows {spec.module!r}), so the '
                f'recorded tensor no longer holds what the module produced. '
                f"Set clone=True in the feature spec (dict(module="
                f"'{spec.module}', source='{spec.source}', clone=True)) to "
                f'copy it at capture.')
        return value

    def remove(self) -> None:
        """Remove every hook and drop the records."""
        for module, hook in self._hooks.values():
            self._detach(module, hook)
        self._hooks = {}
        self._storage.recording = False
        self.reset()

    def __enter__(self) -> 'FeatureRecorder':
        return self

    def __exit__(self, *exc) -> None:
        self.remove()

    def __del__(self):
        try:
            self.remove()
        except Exception:  # noqa: BLE001  interpreter shutdown
            pass


class _Recording:

    def __init__(self, recorder: FeatureRecorder):
        self.recorder = recorder

    def __enter__(self) -> FeatureRecorder:
        self.recorder._resolve()
        self.recorder.reset()
        self.recorder._storage.recording = True
        return self.recorder

    def __exit__(self, *exc) -> None:
        self.recorder._storage.recording = False


def with_clone(spec: FeatureSpec, clone: bool) -> FeatureSpec:
    """A copy of ``spec`` with ``clone`` set."""
    return replace(spec, clone=clone)
