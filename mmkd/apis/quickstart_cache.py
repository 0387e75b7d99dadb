"""The quickstart's teacher cache.

The teacher is trained once and reused while what it learns from is
unchanged: ``<teacher_dir>/teacher_cache.json`` records the checkpoint and
the metrics under a key, the SHA-256 of the teacher's model, data and
recipe (:func:`teacher_cache_key`).
"""
import copy
import hashlib
import json
import os.path as osp
import time
from typing import Optional

from mmengine.config import Config

from mmkd.utils.atomic_io import atomic_write_json
from mmkd.utils.plain import canonical

from .quickstart_results import StageResult

__all__ = [
    'CACHE_FILE', 'CACHE_FORMAT', 'teacher_cache_key', 'load_teacher_cache',
    'write_teacher_cache'
]

CACHE_FILE = 'teacher_cache.json'
CACHE_FORMAT = 1

# Config keys that define what the teacher learns (its cache key).
_TEACHER_KEY_FIELDS = ('model', 'train_dataloader', 'val_dataloader',
                       'optim_wrapper', 'param_scheduler', 'train_cfg',
                       'randomness', 'val_evaluator')


def teacher_cache_key(cfg: Config, data_meta: Optional[dict]) -> str:
    """SHA-256 of what the teacher learns from: model, data, recipe.

    The data root and the work dir are left out (the same data elsewhere
    gives the same teacher); the dataset is identified by its generator
    request (``meta.json`` without its statistics).
    """
    from mmkd.version import __version__

    fields = {k: copy.deepcopy(cfg.get(k, None)) for k in _TEACHER_KEY_FIELDS}
    for loader in ('train_dataloader', 'val_dataloader'):
        if fields.get(loader):
            fields[loader]['dataset'].pop('data_root', None)
    data = {k: v for k, v in (data_meta or {}).items() if k != 'stats'}
    payload = dict(
        format=CACHE_FORMAT,
        mmkd=__version__,
        config=canonical(Config(fields).to_dict()),
        data=canonical(data))
    text = json.dumps(payload, sort_keys=True, separators=(',', ':'))
    return hashlib.sha256(text.encode()).hexdigest()


def load_teacher_cache(teacher_dir: str, key: str) -> Optional[dict]:
    """The cached teacher's record if it is valid for ``key``, else None.

    Valid means: the record parses, its key matches, and the checkpoint it
    names is present (checkpoints are written atomically, so a present
    file is a whole one).
    """
    path = osp.join(teacher_dir, CACHE_FILE)
    try:
        with open(path) as f:
            record = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get('key') != key:
        return None
    ckpt = record.get('checkpoint')
    if not isinstance(ckpt, str):
        return None
    ckpt = osp.join(teacher_dir, ckpt)
    if not osp.isfile(ckpt) or osp.getsize(ckpt) == 0:
        return None
    record = dict(record)
    record['checkpoint'] = ckpt
    log_dir = record.get('log_dir')
    record['log_dir'] = osp.join(teacher_dir, log_dir) if log_dir else None
    return record


def write_teacher_cache(teacher_dir: str, key: str,
                        result: StageResult) -> None:
    """Record ``result`` (a trained teacher) as the cache for ``key``.

    Written atomically: a reader sees the previous record or this one.
    """
    record = dict(
        format=CACHE_FORMAT,
        key=key,
        checkpoint=osp.relpath(result.checkpoint, teacher_dir),
        log_dir=osp.relpath(result.log_dir, teacher_dir)
        if result.log_dir else None,
        metrics=result.metrics,
        max_iters=result.max_iters,
        train_time_s=result.train_time_s,
        created=time.strftime('%Y-%m-%d %H:%M:%S'))
    atomic_write_json(record, osp.join(teacher_dir, CACHE_FILE), indent=1)
