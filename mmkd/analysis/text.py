"""Text output of ``tools/inspect_layers.py``: tables and config text."""
import textwrap
from itertools import zip_longest
from typing import Dict, List, Optional, Sequence

from .candidates import Candidate, ModelLayers
from .pairs import LayerPair

NAME_WIDTH = 36
SIDE_WIDTH = 64


def _shape(c: Candidate) -> str:
    return 'x'.join(str(d) for d in c.shape[1:])


def _cell(c: Optional[Candidate]) -> str:
    if c is None:
        return ''
    name = c.name if len(c.name) <= NAME_WIDTH else \
        '...' + c.name[-NAME_WIDTH + 3:]
    flags = ('inplace' if c.inplace_after else '') + (
        ' =' if c.same_as else '')
    return f'{c.role or "":<8}{name:<{NAME_WIDTH}} {_shape(c):<12} ' \
        f'{flags.strip()}'


def _segments(layers: ModelLayers, anchor: Dict[int, str]):
    """Split the candidates after each anchor (a paired candidate)."""
    segments, current = [], []
    for c in layers.candidates:
        current.append(c)
        if id(c) in anchor:
            segments.append(current)
            current = []
    segments.append(current)
    return segments


def format_model(layers: ModelLayers) -> str:
    """One model's candidates, one per line."""
    lines = [f'{layers.label}: {layers.description}',
             f'  {"role":<8}{"module":<{NAME_WIDTH}} {"C x H x W":<12} '
             f'notes']
    for c in layers.candidates:
        line = '  ' + _cell(c)
        if c.same_as:
            line += f' (same tensor as {c.same_as})'
        lines.append(line.rstrip())
    lines += _not_run(layers)
    return '\n'.join(lines)


def _not_run(layers: ModelLayers) -> List[str]:
    if not layers.not_run:
        return []
    return [f'  not run in {layers.label} inference (tensor mode): '
            f'{", ".join(layers.not_run)} (an auxiliary head runs only in '
            f"the student's training forward)"]


def format_layers(teacher: ModelLayers, student: ModelLayers,
                  pairs: Sequence[LayerPair]) -> str:
    """Teacher and student candidates side by side, rows of the same role
    aligned, with what each role pair needs."""
    anchor = {id(c): p.role for p in pairs for c in (p.teacher, p.student)}
    needs = {p.role: p.needs for p in pairs}
    t_seg = _segments(teacher, anchor)
    s_seg = _segments(student, anchor)
    head = (f'{"teacher: " + teacher.description:<{SIDE_WIDTH}} | '
            f'{"student: " + student.description:<{SIDE_WIDTH}} | needs')
    sub = (f'{"role":<8}{"module":<{NAME_WIDTH}} {"C x H x W":<12} notes')
    lines = [head, f'{sub:<{SIDE_WIDTH}} | {sub:<{SIDE_WIDTH}} |',
             '-' * (2 * SIDE_WIDTH + 12)]
    for ts, ss in zip_longest(t_seg, s_seg, fillvalue=[]):
        # anchors last: pad the shorter segment before its anchor
        n = max(len(ts), len(ss))
        ts = _pad(ts, n, anchor)
        ss = _pad(ss, n, anchor)
        for t, s in zip(ts, ss):
            need = needs[anchor[id(s)]] if s is not None and t is not None \
                and id(s) in anchor and id(t) in anchor else ''
            lines.append(f'{_cell(t):<{SIDE_WIDTH}} | '
                         f'{_cell(s):<{SIDE_WIDTH}} | {need}'.rstrip())
    lines.append('')
    lines.append("notes: inplace = an in-place op modifies the output "
                 "after the module returns it (the distiller clones it at "
                 "capture); '=' = the same tensor as another row")
    lines += _not_run(teacher) + _not_run(student)
    return '\n'.join(lines)


def _pad(seg: List, n: int, anchor: Dict[int, str]) -> List:
    if len(seg) >= n:
        return seg
    if seg and id(seg[-1]) in anchor:
        return seg[:-1] + [None] * (n - len(seg)) + seg[-1:]
    return seg + [None] * (n - len(seg))


def format_pairs(pairs: Sequence[LayerPair]) -> str:
    """The role pairs as a table of feature specs."""
    rows = [('role', 'teacher', 'student', 'needs')]
    for p in pairs:
        rows.append((p.role,
                     f'{_spec_text(p.teacher.spec)} ({_shape(p.teacher)})',
                     f'{_spec_text(p.student.spec)} ({_shape(p.student)})',
                     p.needs))
    widths = [max(len(r[i]) for r in rows) + 2 for i in range(3)]
    return '\n'.join(''.join(f'{v:<{w}}' for v, w in zip(r, widths)) + r[3]
                     for r in rows)


def _spec_text(spec) -> str:
    return spec if isinstance(spec, str) else fmt(spec)


# ----------------------------------------------------------------------
# config text
# ----------------------------------------------------------------------
def fmt(value, indent: int = 0, used: int = 0, width: int = 79) -> str:
    """``value`` as config text: ``dict(k=v)``, lists, tuples, numbers,
    strings. ``indent`` is the current line's indentation and ``used`` the
    characters already on it; what does not fit in ``width`` is split over
    lines, 4 spaces per level."""
    flat = _flat(value)
    if used + len(flat) + 2 <= width or not isinstance(value, (dict, list)):
        return flat
    inner = indent + 4
    if isinstance(value, dict):
        body = [f'{" " * inner}{k}=' +
                fmt(v, inner, inner + len(k) + 1, width)
                for k, v in value.items()]
        return 'dict(\n' + ',\n'.join(body) + ')'
    body = [' ' * inner + fmt(v, inner, inner, width) for v in value]
    return '[\n' + ',\n'.join(body) + ',\n' + ' ' * indent + ']'


def _flat(value) -> str:
    if isinstance(value, dict):
        return 'dict(' + ', '.join(f'{k}={_flat(v)}'
                                   for k, v in value.items()) + ')'
    if isinstance(value, list):
        return '[' + ', '.join(_flat(v) for v in value) + ']'
    if isinstance(value, tuple):
        inner = ', '.join(_flat(v) for v in value)
        return f'({inner},)' if len(value) == 1 else f'({inner})'
    return repr(value)


def format_proposal(method: str, items: List[dict], extra: Dict,
                    notes: Sequence[str]) -> str:
    """Config text merging the proposed items into a distiller config."""
    lines = [f'# --pairs {method}: distill items proposed by '
             f'tools/inspect_layers.py']
    for note in notes:
        lines += textwrap.wrap(note, 77, initial_indent='# ',
                               subsequent_indent='#   ')
    lines.append('model = dict(')
    lines.append('    distill=' + fmt(items, 4, 12) + ')')
    for key, value in extra.items():
        lines.append(f'{key} = {fmt(value, 0, len(key) + 3)}')
    return '\n'.join(lines)
