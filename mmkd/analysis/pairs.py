"""Pair teacher and student layers by role; propose distill items.

:func:`pair_layers` matches what :func:`mmkd.analysis.inspect_model` found
in a teacher and a student by role (stages aligned from the last one, the
classifier's input feature, the logits) and says what each pair needs: a
connector (channels differ) or a resize (spatial sizes differ).
:func:`propose` turns the pairs into ``distill=[...]`` items of the engine
schema (``docs/engine.md``) for one method.
"""
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

from .candidates import Candidate, ModelLayers

#: Methods ``propose`` knows.
METHODS = ('kd', 'cwd', 'ickd', 'at', 'fitnets', 'ccs', 'dlkd', 'irg', 'mgd')
#: ICKD's loss weight is stated per pixel (configs/ickd_voc.py "Alpha").
ICKD_ALPHA = 10.0


@dataclass
class LayerPair:
    """A teacher and a student candidate playing the same role."""
    role: str
    teacher: Candidate
    student: Candidate

    @property
    def needs_connector(self) -> bool:
        """Channels (dim 1) differ."""
        return self.teacher.channels != self.student.channels

    @property
    def needs_resize(self) -> bool:
        """Both are maps and their ``H x W`` differ."""
        return (self.teacher.kind == 'map' and self.student.kind == 'map'
                and self.teacher.spatial != self.student.spatial)

    @property
    def needs(self) -> str:
        """``'connector'``, ``'resize'``, both, ``'-'`` or a warning."""
        if self.teacher.kind != self.student.kind:
            return (f'different kinds ({self.teacher.kind} vs '
                    f'{self.student.kind})')
        parts = [p for p, on in (('connector', self.needs_connector),
                                 ('resize', self.needs_resize)) if on]
        return ' + '.join(parts) or '-'


def pair_layers(teacher: ModelLayers,
                student: ModelLayers) -> List[LayerPair]:
    """Pairs by role: stages (the last ones of the deeper model dropped
    from the front), neck outputs, ``feature`` and ``logits``."""
    pairs = []
    for kind in ('stage', 'neck'):
        t = [c for c in teacher.candidates
             if c.role and c.role.startswith(kind)]
        s = [c for c in student.candidates
             if c.role and c.role.startswith(kind)]
        t.sort(key=lambda c: int(c.role[len(kind):]))
        s.sort(key=lambda c: int(c.role[len(kind):]))
        n = min(len(t), len(s))
        for tc, sc in zip(t[len(t) - n:], s[len(s) - n:]):
            pairs.append(LayerPair(sc.role, tc, sc))
    for role in ('feature', 'logits'):
        tc, sc = teacher.role(role), student.role(role)
        if tc is not None and sc is not None:
            pairs.append(LayerPair(role, tc, sc))
    return pairs


# ----------------------------------------------------------------------
# proposals
# ----------------------------------------------------------------------
def _get(pairs: List[LayerPair], role: str) -> Optional[LayerPair]:
    return next((p for p in pairs if p.role == role), None)


def _need(pairs, *roles) -> LayerPair:
    for role in roles:
        pair = _get(pairs, role)
        if pair is not None:
            return pair
    raise ValueError(f'no teacher/student pair with role {" or ".join(roles)}'
                     f'; pair the layers by hand (see docs/extending.md)')


def _stages(pairs) -> List[LayerPair]:
    stages = [p for p in pairs if p.role.startswith('stage')]
    if not stages:
        raise ValueError('no backbone stages found in both models; pair the '
                         'layers by hand (see docs/extending.md)')
    return stages


def _map(pairs, first: str) -> LayerPair:
    """``first`` if it is a map pair, else the last stage."""
    pair = _get(pairs, first)
    if pair is not None and pair.teacher.kind == pair.student.kind == 'map':
        return pair
    return _stages(pairs)[-1]


def _item(name: str, pair: LayerPair, loss: dict, connector: bool = True,
          student_extra=(), teacher_transforms=()) -> dict:
    transforms = []
    if connector and pair.needs_connector:
        transforms.append(dict(type='ConvBNConnector'))
    if pair.needs_resize:
        resize = dict(type='Resize', mode='bilinear')
        # shrink first: the connector then runs on the smaller map
        larger = pair.student.spatial[0] * pair.student.spatial[1] > \
            pair.teacher.spatial[0] * pair.teacher.spatial[1]
        transforms.insert(0 if larger else len(transforms), resize)
    transforms += list(student_extra)
    item = dict(name=name, student=pair.student.spec,
                teacher=pair.teacher.spec)
    if transforms:
        item['student_transforms'] = transforms
    if teacher_transforms:
        item['teacher_transforms'] = list(teacher_transforms)
    item['loss'] = loss
    return item


def _multi(name: str, pairs: List[LayerPair], loss: dict) -> dict:
    """One item over several pairs (lists of specs); a Resize when any
    pair needs one (each feature gets its own transform chain)."""
    item = dict(name=name, student=[p.student.spec for p in pairs],
                teacher=[p.teacher.spec for p in pairs])
    if any(p.needs_resize for p in pairs):
        item['student_transforms'] = [dict(type='Resize', mode='bilinear')]
    item['loss'] = loss
    return item


def _same_classes(pair: LayerPair, method: str) -> None:
    if pair.needs_connector:
        raise ValueError(
            f'{method}: the teacher predicts {pair.teacher.channels} classes '
            f'and the student {pair.student.channels}; logit losses need '
            f'the same classes (set the student\'s num_classes to the '
            f"teacher's) or use a feature method (ickd, at, fitnets)")


def _ickd_weight(pair: LayerPair, grid: Tuple[int, int]) -> float:
    h, w = pair.teacher.spatial
    p = max(1, (h // grid[0]) * (w // grid[1]))
    return float(f'{ICKD_ALPHA / p ** 2:.3g}')


def propose(method: str, pairs: List[LayerPair],
            task: str = 'seg') -> Tuple[List[dict], Dict, List[str]]:
    """Distill items for ``method`` from the role pairs.

    Args:
        method (str): One of :data:`METHODS`.
        pairs (list[LayerPair]): From :func:`pair_layers`.
        task (str): ``'seg'`` or ``'cls'`` (the student's).

    Returns:
        tuple: ``(items, extra, notes)``: the ``distill=[...]`` items,
        other top-level config keys the method needs (e.g.
        ``custom_hooks``) and comments (weights to tune, choices made).

    Raises:
        ValueError: Unknown method, or the models lack the layers it needs.
    """
    method = method.lower()
    if method not in METHODS:
        raise ValueError(f'unknown method {method!r}; --pairs takes one of '
                         f'{", ".join(METHODS)}')
    notes: List[str] = []
    extra: Dict = {}
    if method == 'kd':
        pair = _need(pairs, 'logits')
        _same_classes(pair, 'kd')
        loss = dict(type='KDLoss', tau=1.0, loss_weight=1.0) \
            if task == 'seg' else dict(type='ClsKDLoss', tau=1.0,
                                       loss_weight=1.0)
        items = [_item('loss_kd', pair, loss)]
    elif method == 'cwd':
        pair = _need(pairs, 'logits') if task == 'seg' else _stages(pairs)[-1]
        if task == 'seg':
            _same_classes(pair, 'cwd')
        notes.append("tau=1, loss_weight=5: mmrazor's segmentation recipe")
        items = [_item('loss_cwd', pair, dict(
            type='ChannelWiseDivergence', tau=1.0, loss_weight=5.0))]
    elif method in ('ickd', 'ccs'):
        pair = _map(pairs, 'feature')
        h, w = pair.teacher.spatial
        if method == 'ickd':
            grid = (min(4, h), min(4, w))
            loss = dict(type='ICKDLoss', grid_size=grid,
                        loss_weight=_ickd_weight(pair, grid))
            notes.append(
                f'loss_weight = ickd_alpha / p^2 with ickd_alpha = '
                f'{ICKD_ALPHA:g} per pixel and p = pixels per cell of the '
                f'{h}x{w} map (configs/ickd_voc.py, "Alpha"); tune it')
        else:
            loss = dict(type='CCSLoss', grid_size=(1, 1), intra_weight=1.0,
                        inter_weight=1.0, loss_weight=1.0)
        items = [_item(f'loss_{method}', pair, loss)]
    elif method == 'at':
        items = [
            _item(f'loss_at_{p.role}', p, dict(type='ATLoss', p=2,
                                               loss_weight=1.0),
                  connector=False) for p in _stages(pairs)
        ]
        notes.append('attention maps average over channels: no connector')
    elif method == 'fitnets':
        stages = _stages(pairs)
        pair = stages[-2] if len(stages) > 1 else stages[-1]
        notes.append(f'hint layer: {pair.role} (the middle of the network, '
                     f'as in FitNets); the connector is the regressor')
        items = [_item('loss_fitnets', pair, dict(type='FitNetsLoss',
                                                  loss_weight=1.0))]
    elif method == 'dlkd':
        pair = _get(pairs, 'feature')
        pool = []
        if pair is None or pair.teacher.kind != 'vector':
            pair, pool = _stages(pairs)[-1], [dict(type='GlobalAvgPool')]
        proj = [dict(type='MLPProjector')] if pair.needs_connector else []
        items = [_item('loss_dlkd', pair, dict(
            type='DLKDLoss', align_weight=10.0, corr_weight=20.0),
            connector=False, student_extra=pool + proj,
            teacher_transforms=pool)]
        if items[0].get('student_transforms', [{}])[0].get('type') == \
                'Resize':  # pooled anyway
            items[0]['student_transforms'].pop(0)
        notes.append('weights: the authors\' ImageNet values (align 10, '
                     'corr 20)')
    elif method == 'irg':
        stages = _stages(pairs)
        items = []
        logits = _get(pairs, 'logits')
        if logits is not None and not logits.needs_connector:
            items.append(_item('loss_irg_vertex', logits,
                               dict(type='IRGVertexLoss', loss_weight=1.0)))
        items.append(_item('loss_irg_edge', stages[-1],
                           dict(type='IRGEdgeLoss', loss_weight=1.0),
                           connector=False))
        a, b = stages[-2:] if len(stages) > 1 else (None, None)
        if a is not None and a.teacher.channels == b.teacher.channels and \
                a.student.channels == b.student.channels:
            items.append(_multi('loss_irg_transformation', [a, b],
                                dict(type='IRGTransformationLoss',
                                     loss_weight=1.0)))
        else:
            notes.append('no transformation term: it needs two layers of '
                         'equal channels per side (e.g. the first and last '
                         'block of a stage); add one by hand')
        notes.append('relation losses compare samples: train with a batch '
                     'of 2 or more per GPU')
    else:  # mgd
        stages = [p for p in _stages(pairs)
                  if p.teacher.channels >= p.student.channels]
        dropped = [p.role for p in _stages(pairs) if p not in stages]
        if not stages:
            raise ValueError('mgd: no stage where the teacher has at least '
                             'as many channels as the student')
        if dropped:
            notes.append(f'left out {", ".join(dropped)}: MGD needs at '
                         f'least as many teacher channels as student ones')
        items = [_multi('loss_mgd', stages, dict(
            type='MatchingGuidedLoss', reduction='amp', teacher_bn=None,
            loss_weight=1.0))]
        extra['custom_hooks'] = [dict(type='MatchingGuidedHook')]
        notes.append('teacher_bn=None: no margins; for the paper\'s margins '
                     "record the input of each stage's last ReLU and use "
                     "teacher_bn='auto'")
    return items, extra, notes
