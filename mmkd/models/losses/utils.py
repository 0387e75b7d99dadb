"""Input checks shared by the distillation losses."""
from typing import Optional

from torch import Tensor


def check_pair(student: Tensor,
               teacher: Tensor,
               what: str = 'a B x C x H x W map',
               channel_hint: Optional[str] = 'differ in channels; add a '
               'connector',
               size_hint: str = "resize the student map to the teacher's "
               'H x W') -> None:
    """Check that student and teacher are matching 4-D float tensors.

    Args:
        student (Tensor): Student tensor, expected ``B x C x H x W``.
        teacher (Tensor): Teacher tensor, expected the same shape.
        what (str): How the tensors are named in the ndim error.
        channel_hint (str, optional): Error text when the channel counts
            differ; None allows different channel counts.
        size_hint (str): The fix named when the spatial sizes differ.

    Raises:
        ValueError: Naming the offending shapes and the fix.
    """
    for name, x in (('student', student), ('teacher', teacher)):
        if not isinstance(x, Tensor):
            raise ValueError(f'{name} must be a Tensor, got {type(x)}')
        if x.ndim != 4:
            raise ValueError(
                f'{name} must be {what}, got shape {tuple(x.shape)}; '
                f'reshape it to 4-D')
        if not x.is_floating_point():
            raise ValueError(f'{name} must be floating point, got {x.dtype}')
    s, t = tuple(student.shape), tuple(teacher.shape)
    if s[0] != t[0]:
        raise ValueError(
            f'student {s} and teacher {t} differ in batch size; feed both '
            f'networks the same images')
    if channel_hint is not None and s[1] != t[1]:
        raise ValueError(f'student {s} and teacher {t} {channel_hint}')
    if s[2:] != t[2:]:
        raise ValueError(
            f'student {s} and teacher {t} differ in spatial size; '
            f'{size_hint}')


def check_positive(name: str, value, hint: str) -> None:
    """Raise ValueError unless ``value`` is a positive (non-bool) number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not value > 0:
        raise ValueError(f'{name}={value!r} must be a positive number '
                         f'({hint})')
