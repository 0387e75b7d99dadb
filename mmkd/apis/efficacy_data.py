"""Any dataset in the Pascal VOC layout for the quickstart's protocol.

:func:`inspect_voc` reads a ``VOC2012``-style directory without writing
into it: the number of classes (the largest label in the training split's
PNGs, 255 = void excluded, plus one; or ``meta.json``'s ``classes``), their
names (``meta.json``, else ``classes.txt`` / ``labels.txt`` one per line,
else ``class0, class1, ...``) and the training split's pixel frequencies.
:func:`apply_dataset` fits a quickstart config to it: the datasets'
``metainfo``, every head's ``num_classes`` and class-balanced
cross-entropy weights computed from the training split
(:func:`class_weights`; off by default, see :func:`apply_dataset`), and
the protocol samples training images class-balanced
(:func:`repeat_factor_split`).
:func:`check_predictions` warns when a model predicts (almost) one class
only.
"""
import json
import os.path as osp
import warnings
from typing import List, Optional, Sequence

import numpy as np

from .pretext import read_split
from .student import is_distiller_config

__all__ = [
    'inspect_voc', 'class_weights', 'repeat_factor_split', 'apply_dataset',
    'check_predictions'
]


def _names(voc_dir: str) -> Optional[List[str]]:
    meta = osp.join(voc_dir, 'meta.json')
    if osp.isfile(meta):
        try:
            with open(meta) as f:
                names = json.load(f).get('classes')
            if names:
                return [str(n) for n in names]
        except (OSError, ValueError, AttributeError):
            pass
    for fname in ('classes.txt', 'labels.txt'):
        path = osp.join(voc_dir, fname)
        if osp.isfile(path):
            with open(path) as f:
                return [ln.strip() for ln in f if ln.strip()]
    return None


def inspect_voc(voc_dir: str) -> dict:
    """Classes and training-split statistics of a VOC-layout dataset.

    Returns:
        dict: ``num_classes``, ``classes`` (names), ``palette``,
        ``pixel_counts`` (per class, training split), ``num_train``,
        ``num_val``; and ``image_sizes_vary=True`` when the label maps
        (train and val) are not all one size, as in Pascal VOC (absent
        otherwise, so that caches keyed on a fixed-size dataset's
        statistics stay valid).

    Raises:
        FileNotFoundError: A split list or a file it names is missing.
        ValueError: The labels hold fewer than 2 classes, or more than the
            given names.
    """
    from PIL import Image

    from mmkd.datasets.synthetic_classes import voc_palette
    train = read_split(voc_dir, 'train')
    val = read_split(voc_dir, 'val')
    counts = np.zeros(256, np.int64)
    sizes = set()
    for sid in train:
        path = osp.join(voc_dir, 'SegmentationClass', sid + '.png')
        if not osp.isfile(path):
            raise FileNotFoundError(f'label {path} (listed in train.txt) is '
                                    f'missing')
        label = np.asarray(Image.open(path))
        sizes.add(label.shape[:2])
        counts += np.bincount(label.ravel(), minlength=256)[:256]
    for sid in val:
        path = osp.join(voc_dir, 'SegmentationClass', sid + '.png')
        if osp.isfile(path):  # the header only; missing: the loader says
            sizes.add(Image.open(path).size[::-1])
    present = np.nonzero(counts[:255])[0]
    if len(present) == 0:
        raise ValueError(f'{voc_dir}: the training labels hold no class')
    names = _names(voc_dir)
    k = int(present.max()) + 1
    if names is not None:
        if k > len(names):
            raise ValueError(
                f'{voc_dir}: labels go up to {k - 1} but only {len(names)} '
                f'class names are given')
        k = len(names)
    else:
        names = [f'class{i}' for i in range(k)]
    if k < 2:
        raise ValueError(f'{voc_dir}: need at least 2 classes, found {k}')
    info = dict(
        num_classes=k,
        classes=list(names),
        palette=[list(p) for p in voc_palette(k)],
        pixel_counts=counts[:k].tolist(),
        num_train=len(train),
        num_val=len(val))
    if len(sizes) > 1:
        info['image_sizes_vary'] = True
    return info


def class_weights(pixel_counts: Sequence[int], power: float = 0.5,
                  clip: float = 10.0) -> List[float]:
    """Cross-entropy class weights ``(f_c)^-power`` from pixel frequencies,
    normalised so that the average weight per training pixel is 1 and
    clipped to ``[1/clip, clip]`` (a class absent from the training split
    gets ``clip``)."""
    counts = np.asarray(pixel_counts, float)
    freq = counts / max(counts.sum(), 1.0)
    w = np.where(freq > 0, np.power(np.maximum(freq, 1e-12), -power), 0.0)
    mean = float((w * freq).sum())
    w = w / mean if mean > 0 else np.ones_like(w)
    w = np.where(freq > 0, w, clip)
    return np.clip(w, 1.0 / clip, clip).round(4).tolist()


def repeat_factor_split(voc_dir: str, out_path: str,
                        threshold: float = 0.3, seed: int = 0,
                        ids: Optional[Sequence[str]] = None) -> str:
    """Write a class-balanced training list (repeat-factor sampling).

    LVIS's repeat factors from the training split: a class present in a
    fraction ``f_c`` of the images gets ``r_c = max(1, sqrt(threshold /
    f_c))``; an image is listed ``r_i = max_c r_c`` times over its classes
    (stochastic rounding with a fixed seed). Images with rare classes are
    then seen more often. The list goes to ``out_path`` (outside the
    dataset); use it as the training ``ann_file``. ``ids``: a subset of the
    training split (e.g. without a held-out part); default all of it.

    Returns:
        str: ``out_path``.
    """
    import os

    from PIL import Image
    ids = list(read_split(voc_dir, 'train') if ids is None else ids)
    present = []
    for sid in ids:
        lab = np.asarray(
            Image.open(osp.join(voc_dir, 'SegmentationClass', sid + '.png')))
        present.append(set(np.unique(lab).tolist()) - {255})
    freq = {}
    for classes in present:
        for c in classes:
            freq[c] = freq.get(c, 0) + 1
    rc = {
        c: max(1.0, (threshold / (n / len(ids)))**0.5)
        for c, n in freq.items()
    }
    rng = np.random.default_rng(seed)
    lines = []
    for sid, classes in zip(ids, present):
        r = max([rc[c] for c in classes] or [1.0])
        times = int(r) + int(rng.random() < r - int(r))
        lines.extend([sid] * times)
    os.makedirs(osp.dirname(osp.abspath(out_path)), exist_ok=True)
    from mmkd.utils.atomic_io import atomic_write_text
    atomic_write_text(''.join(ln + '\n' for ln in lines), out_path)
    return out_path


def _heads(model_cfg) -> list:
    out = []
    for key in ('decode_head', 'auxiliary_head'):
        head = model_cfg.get(key)
        if head is None:
            continue
        out.extend(head if isinstance(head, list) else [head])
    return out


def apply_dataset(cfg, info: dict, balance: bool = False) -> None:
    """Fit a quickstart config (in place) to a dataset described by
    :func:`inspect_voc`: metainfo, heads' ``num_classes``, the training
    list (``info['train_list']``, e.g. :func:`repeat_factor_split`'s),
    one image per evaluation batch when ``info['image_sizes_vary']`` and
    (with ``balance``) class-balanced cross-entropy weights.

    ``balance`` is off by default: mmseg 1.2.2's ``CrossEntropyLoss``
    fails with ``class_weight`` on labels holding ``ignore_index`` (it
    indexes the weights with 255), which every VOC label map does.
    """
    meta = dict(classes=tuple(info['classes']), palette=info['palette'])
    from .quickstart_config import config_datasets
    for dataset in config_datasets(cfg):
        dataset['metainfo'] = meta
    if info.get('train_list'):
        cfg.train_dataloader.dataset.ann_file = info['train_list']
    if info.get('image_sizes_vary'):
        # mmseg evaluates a batch of one size only (the val pipeline keeps
        # the aspect ratio): one image a batch, as mmseg's VOC configs do
        loaders = [cfg.get(k, None) for k in ('val_dataloader',
                                              'test_dataloader')]
        loaders += [h.get('dataloader', None)
                    for h in cfg.get('custom_hooks', None) or []]
        for loader in loaders:
            if isinstance(loader, dict) and 'batch_size' in loader:
                loader['batch_size'] = 1
    weights = class_weights(info['pixel_counts']) if balance else None
    model = cfg.model
    nets = [model.student, model.teacher] if is_distiller_config(
        cfg) else [model]
    for net in nets:
        for head in _heads(net):
            head['num_classes'] = info['num_classes']
            losses = head.get('loss_decode')
            for loss in (losses if isinstance(losses, list) else [losses]):
                if loss is not None and loss.get(
                        'type') == 'CrossEntropyLoss':
                    loss['class_weight'] = weights


def check_predictions(metrics: dict, num_classes: int,
                      name: str) -> Optional[str]:
    """Warn when a model has learnt (almost) one class only.

    Its mean per-class accuracy (``mAcc``, in %) is then about
    ``100 / num_classes``: below ``1.5 * 100 / num_classes`` it warns.

    Returns:
        str or None: The warning text, if any.
    """
    macc = metrics.get('mAcc')
    if macc is None or num_classes < 2:
        return None
    if float(macc) < 1.5 * 100.0 / num_classes:
        msg = (f'{name}: mAcc {float(macc):.1f}% is about that of predicting '
               f'one class everywhere ({100.0 / num_classes:.1f}% with '
               f'{num_classes} classes): it has learnt (almost) one class '
               f'only; train longer or check the labels and class weights')
        warnings.warn(msg)
        return msg
    return None
