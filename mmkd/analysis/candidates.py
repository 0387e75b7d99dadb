"""What :func:`mmkd.analysis.inspect_model` returns: the candidates of
one model, each a tensor a distill item can record."""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple, Union

SpecLike = Union[str, dict]


@dataclass
class Candidate:
    """One tensor a distill item can record.

    Attributes:
        name (str): Display name: a module (``backbone.layer4``), an
            element of a module's tuple output (``backbone[2]``) or a
            module's input (``decode_head.conv_seg (input)``).
        spec (str | dict): The feature spec that records it.
        shape (tuple[int]): Shape on the dummy batch.
        inplace_after (bool): An in-place op modifies the tensor after the
            module returned it (the distiller clones it at capture).
        role (str, optional): ``stageN``, ``neckN``, ``feature`` or
            ``logits``.
        same_as (str, optional): Another candidate holding the same tensor.
        depth (int): Nesting depth, not counting ``ModuleList`` levels.
        storage (tuple): ``(shape, data_ptr, stride)`` on the dummy batch,
            to find candidates holding the same tensor.
    """
    name: str
    spec: SpecLike
    shape: Tuple[int, ...]
    inplace_after: bool = False
    role: Optional[str] = None
    same_as: Optional[str] = None
    depth: int = 0
    storage: Optional[tuple] = field(default=None, repr=False)

    @property
    def channels(self) -> Optional[int]:
        """Dim 1 (channels of a map, width of a vector, tokens' count of a
        ``B x N x C`` sequence)."""
        return self.shape[1] if len(self.shape) >= 2 else None

    @property
    def spatial(self) -> Optional[Tuple[int, int]]:
        """``(H, W)`` of a ``B x C x H x W`` map, else None."""
        return tuple(self.shape[2:]) if len(self.shape) == 4 else None

    @property
    def kind(self) -> str:
        """``'map'`` (4-D), ``'tokens'`` (3-D), ``'vector'`` (2-D)."""
        return {4: 'map', 3: 'tokens', 2: 'vector'}.get(len(self.shape),
                                                        f'{len(self.shape)}-D')


@dataclass
class ModelLayers:
    """What :func:`inspect_model` found in one model."""
    label: str
    description: str
    task: str
    input_shape: Tuple[int, ...]
    candidates: List[Candidate] = field(default_factory=list)
    not_run: List[str] = field(default_factory=list)

    def role(self, role: str) -> Optional[Candidate]:
        """The candidate with ``role``, or None."""
        return next((c for c in self.candidates if c.role == role), None)

    @property
    def stages(self) -> List[Candidate]:
        """Stage candidates in order."""
        stages = [c for c in self.candidates
                  if c.role and c.role.startswith('stage')]
        return sorted(stages, key=lambda c: int(c.role[5:]))
