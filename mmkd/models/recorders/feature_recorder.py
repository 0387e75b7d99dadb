"""Capture intermediate features of a model through forward hooks.

The design follows timm's ``FeatureHooks``: one forward hook per module,
registered once, that stores what the module received or returned while
recording is switched on, and that is removed again when the recorder is
closed (or garbage-collected).
"""
import difflib
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Union

from torch import Tensor, nn

FeatureSpecLike = Union[str, dict, 'FeatureSpec']


@dataclass(frozen=True)
class FeatureSpec:
    """Which tensor of which module to capture.

    Args:
        module (str): Dotted name of the module, as listed by
            ``model.named_modules()``, e.g. ``'backbone.layer4'``.
        source (str): ``'output'`` (what the module returns) or ``'input'``
            (its first positional argument, e.g. the feature that
            ``decode_head.conv_seg`` classifies). Defaults to ``'output'``.
        index (int, optional): Element to take when the captured value is a
            tuple or list (e.g. a backbone returning one map per stage).
            Defaults to None (the value must be a tensor; inputs default to
            their first argument).
        call (int): Which call to keep when the module runs more than once
            per forward pass (e.g. a ReLU shared inside a residual block);
            Python indexing, ``-1`` keeps the last. Defaults to -1.
    """
    module: str
    source: str = 'output'
    index: Optional[int] = None
    call: int = -1

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
            unknown = set(spec) - {'module', 'source', 'index', 'call'}
            if unknown or 'module' not in spec:
                raise ValueError(
                    f'a feature spec is a module name or a dict with keys '
                    f'module (required), source, index, call; got {spec!r}')
            return cls(**spec)
        raise TypeError(
            f'a feature spec must be a str or dict, got {type(spec).__name__}')

    def __str__(self) -> str:
        text = f'{self.module} ({self.source}'
        if self.index is not None:
            text += f'[{self.index}]'
        return text + ')'


def unknown_module_message(name: str, valid: Iterable[str],
                           model_name: str = 'model') -> str:
    """Describe an unknown module name and list the closest valid ones."""
    valid = [v for v in valid if v]
    close = difflib.get_close_matches(name, valid, n=5, cutoff=0.4)
    if not close:
        # Fall back to names sharing the leading component (e.g. 'backbone').
        head = name.split('.')[0]
        close = [v for v in valid if v.split('.')[0] == head][:5]
    hint = (f' Closest valid names: {", ".join(close)}.' if close else
            f' Top-level modules: '
            f'{", ".join(sorted({v.split(".")[0] for v in valid}))}.')
    return (f'{model_name} has no module named {name!r}.{hint} '
            f'Valid names are those of {model_name}.named_modules().')


class FeatureRecorder:
    """Record inputs or outputs of named submodules during forward passes.

    Hooks are registered on construction and only store tensors inside
    :meth:`recording`, so inference passes hold no extra memory. Call
    :meth:`remove` (or use the recorder as a context manager) to detach the
    hooks; they are also removed when the recorder is garbage-collected.

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
        self.model_name = model_name
        self.specs: List[FeatureSpec] = []
        for spec in specs:
            spec = FeatureSpec.parse(spec)
            if spec not in self.specs:
                self.specs.append(spec)
        modules = dict(model.named_modules())
        for spec in self.specs:
            if spec.module not in modules:
                raise KeyError(
                    unknown_module_message(spec.module, modules, model_name))
        self._records: Dict[str, Dict[str, List[Any]]] = {}
        self._handles = []
        # The hooks share this flag and the record lists, never the recorder
        # itself, so dropping the recorder lets __del__ detach them.
        self._state = {'recording': False}
        for name in dict.fromkeys(spec.module for spec in self.specs):
            sources = {s.source for s in self.specs if s.module == name}
            self._records[name] = {source: [] for source in sources}
            self._handles.append(modules[name].register_forward_hook(
                self._make_hook(name)))

    def _make_hook(self, name: str):
        records, state = self._records[name], self._state

        def hook(module, args, output):
            if not state['recording']:
                return
            if 'input' in records:
                records['input'].append(args)
            if 'output' in records:
                records['output'].append(output)

        return hook

    @property
    def num_hooks(self) -> int:
        """Number of forward hooks currently registered."""
        return len(self._handles)

    def reset(self) -> None:
        """Drop every recorded value."""
        for sources in self._records.values():
            for values in sources.values():
                values.clear()

    def recording(self) -> '_Recording':
        """Context manager: clear old records, then record until exit."""
        return _Recording(self)

    def get(self, spec: FeatureSpecLike) -> Tensor:
        """Return the tensor recorded for ``spec`` in the last recording.

        Raises:
            RuntimeError: If the module did not run during the recording or
                the captured value is not a tensor (set ``index``).
        """
        spec = FeatureSpec.parse(spec)
        if spec.module not in self._records or (
                spec.source not in self._records[spec.module]):
            raise KeyError(f'{spec} is not recorded by this recorder; '
                           f'recorded: {", ".join(map(str, self.specs))}')
        calls = self._records[spec.module][spec.source]
        if not calls:
            raise RuntimeError(
                f'{self.model_name} module {spec.module!r} did not run during '
                f'the forward pass, so {spec} was not captured. Pick a module '
                f'that the forward pass uses (auxiliary heads only run in '
                f"the student's training forward).")
        try:
            value = calls[spec.call]
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
            value = value[index]
        if not isinstance(value, Tensor):
            kind = (f'a {type(value).__name__} of {len(value)} elements'
                    if isinstance(value, (tuple, list)) else
                    f'a {type(value).__name__}')
            raise RuntimeError(
                f'{spec} captured {kind}, not a tensor; set `index` in the '
                f'feature spec to pick one element')
        return value

    def remove(self) -> None:
        """Remove every hook and drop the records."""
        for handle in self._handles:
            handle.remove()
        self._handles = []
        self._state['recording'] = False
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
        self.recorder.reset()
        self.recorder._state['recording'] = True
        return self.recorder

    def __exit__(self, *exc) -> None:
        self.recorder._state['recording'] = False
