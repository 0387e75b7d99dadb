"""Weights-only checkpoint loading for every mmengine scheme.

mmengine 0.10.7 calls bare ``torch.load``, and its ``http(s)://`` loader goes
through ``torch.hub.load_state_dict_from_url``, whose ``weights_only``
defaults to ``False``: a downloaded checkpoint is fully unpickled and can
run any code. :func:`install_safe_loaders`

* allow-lists exactly the types mmengine checkpoints carry
  (:data:`~mmkd.utils.safe_globals.SAFE_CHECKPOINT_GLOBALS`);
* re-registers every :class:`mmengine.runner.CheckpointLoader` scheme
  (``''``, ``http(s)://``, ``torchvision://``/``modelzoo://``,
  ``open-mmlab://``/``openmmlab://``, ``mmcls://``, ``pavi://``, ``s3://``/
  ``petrel://``) with loaders that always pass ``weights_only=True``
  explicitly and raise
  :class:`~mmkd.utils.safe_globals.UnsafeCheckpointError` for pickled
  objects that are not allow-listed. Loaders registered by other packages
  are wrapped so that their errors are translated the same way.

:func:`safe_load` loads a path or URL that way.
"""
import functools
import io
import logging
import os
import os.path as osp
import pickle
import threading
from tempfile import TemporaryDirectory
from typing import Any, Callable, Optional, Union
from urllib.parse import urlparse

import torch
from mmengine.logging import print_log
from mmengine.runner import checkpoint as _mmengine_ckpt
from mmengine.runner.checkpoint import CheckpointLoader

from .safe_globals import SAFE_CHECKPOINT_GLOBALS, UnsafeCheckpointError

__all__ = ['install_safe_loaders', 'safe_load']

PathLike = Union[str, 'os.PathLike[str]']


def _missing_checkpoint_error(filename: str) -> FileNotFoundError:
    abspath = osp.abspath(filename)
    return FileNotFoundError(
        f'Checkpoint file not found: {filename!r}'
        + (f' (resolved to {abspath!r})' if abspath != filename else '') +
        '. If it is a pretrained or teacher checkpoint, download it first '
        '(the config usually gives its URL; an http(s):// URL can also be '
        'used directly and is downloaded to the torch hub cache), or point '
        'the config at the file you have, e.g. `--cfg-options '
        'model.teacher_checkpoint=/path/to/teacher.pth` for a teacher or '
        '`--cfg-options load_from=/path/to/ckpt.pth` / `--resume '
        '/path/to/ckpt.pth` for the model being trained.')


# ---------------------------------------------------------------------------
# Safe loaders, one per mmengine CheckpointLoader scheme
# ---------------------------------------------------------------------------


def _weights_only_load(f: Any, map_location=None, source=None):
    """``torch.load(f, weights_only=True)``, refusals as UnsafeCheckpointError.
    """
    try:
        return torch.load(f, map_location=map_location, weights_only=True)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError.from_unpickling_error(
            exc, source=source or (f if isinstance(f, str) else None),
            file=f) from exc


def _mark(loader: Callable, original: Optional[Callable] = None) -> Callable:
    loader._mmkd_safe_loader = True  # type: ignore[attr-defined]
    loader._mmkd_original = original  # type: ignore[attr-defined]
    return loader


# The function names matter: CheckpointLoader logs ``__name__[10:]`` as the
# backend name ("Loads checkpoint by local backend ...").


def load_from_local(filename, map_location=None):
    """Load a local checkpoint with ``weights_only=True``."""
    filename = osp.expanduser(os.fspath(filename))
    if not osp.isfile(filename):
        raise _missing_checkpoint_error(filename)
    return _weights_only_load(filename, map_location, source=filename)


def _hub_cached_file(url: str, model_dir: Optional[str]) -> str:
    """Where ``torch.hub.load_state_dict_from_url`` caches ``url``."""
    if model_dir is None:
        model_dir = osp.join(torch.hub.get_dir(), 'checkpoints')
    return osp.join(model_dir, osp.basename(urlparse(url).path))


def _load_url_weights_only(url, model_dir, map_location, progress):
    try:
        # mmengine.runner.checkpoint.load_url is torch.hub's
        # load_state_dict_from_url, whose weights_only defaults to False.
        return _mmengine_ckpt.load_url(
            url,
            model_dir=model_dir,
            map_location=map_location,
            progress=progress,
            weights_only=True)
    except UnsafeCheckpointError:
        raise
    except pickle.UnpicklingError as exc:
        raise UnsafeCheckpointError.from_unpickling_error(
            exc, source=url, file=_hub_cached_file(url, model_dir)) from exc


def load_from_http(filename,
                   map_location=None,
                   model_dir=None,
                   progress=os.isatty(0)):
    """Download (rank 0 first) and load a checkpoint with weights_only=True.
    """
    rank, world_size = _mmengine_ckpt.get_dist_info()
    if rank == 0:
        checkpoint = _load_url_weights_only(filename, model_dir, map_location,
                                            progress)
    if world_size > 1:
        torch.distributed.barrier()
        if rank > 0:
            checkpoint = _load_url_weights_only(filename, model_dir,
                                                map_location, progress)
    return checkpoint


def load_from_torchvision(filename, map_location=None):
    """``torchvision://name`` / ``modelzoo://name``, loaded weights-only."""
    model_urls = _mmengine_ckpt.get_torchvision_models()
    if filename.startswith('modelzoo://'):
        print_log(
            'The URL scheme of "modelzoo://" is deprecated, please '
            'use "torchvision://" instead',
            logger='current',
            level=logging.WARNING)
        model_name = filename[11:]
    else:
        model_name = filename[14:]
    return load_from_http(model_urls[model_name], map_location=map_location)


def load_from_openmmlab(filename, map_location=None):
    """``open-mmlab://name`` / ``openmmlab://name``, loaded weights-only."""
    model_urls = _mmengine_ckpt.get_external_models()
    prefix_str = 'open-mmlab://'
    if filename.startswith(prefix_str):
        model_name = filename[13:]
    else:
        model_name = filename[12:]
        prefix_str = 'openmmlab://'
    deprecated_urls = _mmengine_ckpt.get_deprecated_model_names()
    if model_name in deprecated_urls:
        print_log(
            f'{prefix_str}{model_name} is deprecated in favor '
            f'of {prefix_str}{deprecated_urls[model_name]}',
            logger='current',
            level=logging.WARNING)
        model_name = deprecated_urls[model_name]
    model_url = model_urls[model_name]
    if model_url.startswith(('http://', 'https://')):
        return load_from_http(model_url, map_location=map_location)
    return load_from_local(
        osp.join(_mmengine_ckpt._get_mmengine_home(), model_url),
        map_location)


def load_from_mmcls(filename, map_location=None):
    """``mmcls://name``, loaded weights-only."""
    model_urls = _mmengine_ckpt.get_mmcls_models()
    checkpoint = load_from_http(
        model_urls[filename[8:]], map_location=map_location)
    return _mmengine_ckpt._process_mmcls_checkpoint(checkpoint)


def load_from_pavi(filename, map_location=None):
    """``pavi://path``, loaded weights-only."""
    assert filename.startswith('pavi://'), \
        f'Expected filename startswith `pavi://`, but get {filename}'
    try:
        from pavi import modelcloud
    except ImportError:
        raise ImportError(
            'Please install pavi to load checkpoint from modelcloud.')
    model = modelcloud.get(filename[7:])
    with TemporaryDirectory() as tmp_dir:
        downloaded_file = osp.join(tmp_dir, model.name)
        model.download(downloaded_file)
        return _weights_only_load(downloaded_file, map_location, filename)


def load_from_ceph(filename, map_location=None, backend='petrel'):
    """``s3://`` / ``petrel://`` paths, loaded weights-only."""
    file_backend = _mmengine_ckpt.get_file_backend(
        filename, backend_args={'backend': backend})
    with io.BytesIO(file_backend.get(filename)) as buffer:
        return _weights_only_load(buffer, map_location, filename)


# mmengine's original loader -> its weights-only replacement.
_SAFE_REPLACEMENTS = {
    _mmengine_ckpt.load_from_local: load_from_local,
    _mmengine_ckpt.load_from_http: load_from_http,
    _mmengine_ckpt.load_from_torchvision: load_from_torchvision,
    _mmengine_ckpt.load_from_openmmlab: load_from_openmmlab,
    _mmengine_ckpt.load_from_mmcls: load_from_mmcls,
    _mmengine_ckpt.load_from_pavi: load_from_pavi,
    _mmengine_ckpt.load_from_ceph: load_from_ceph,
}
for _orig, _safe in _SAFE_REPLACEMENTS.items():
    _mark(_safe, _orig)

# The schemes mmengine 0.10.7 registers, registered again should another
# package have removed them.
_MMENGINE_SCHEMES = {
    '': load_from_local,
    'http://': load_from_http,
    'https://': load_from_http,
    'modelzoo://': load_from_torchvision,
    'torchvision://': load_from_torchvision,
    'open-mmlab://': load_from_openmmlab,
    'openmmlab://': load_from_openmmlab,
    'mmcls://': load_from_mmcls,
    'pavi://': load_from_pavi,
    r'(\S+\:)?s3://': load_from_ceph,
    r'(\S+\:)?petrel://': load_from_ceph,
}


def _wrap_foreign_loader(loader: Callable) -> Callable:
    """Translate refusals of a loader mmkd does not know (another package's).

    Such a loader calls ``torch.load`` itself, which is weights-only by
    default on torch >= 2.6; only its errors are made explicit.
    """

    @functools.wraps(loader)
    def wrapper(filename, map_location=None, *args, **kwargs):
        try:
            return loader(filename, map_location, *args, **kwargs)
        except UnsafeCheckpointError:
            raise
        except pickle.UnpicklingError as exc:
            raise UnsafeCheckpointError.from_unpickling_error(
                exc, source=filename,
                file=filename if isinstance(filename, str) else None) from exc

    return _mark(wrapper, loader)


_install_lock = threading.Lock()


def install_safe_loaders() -> None:
    """Make mmengine load checkpoints weights-only, for every scheme.

    Idempotent and cheap: may be called any number of times (again after
    importing a package that registers its own loaders, to wrap those too).

    * allow-lists :data:`~mmkd.utils.safe_globals.SAFE_CHECKPOINT_GLOBALS`
      for ``weights_only`` loads;
    * re-registers (``force=True``) every ``CheckpointLoader`` scheme with a
      loader that passes ``weights_only=True`` explicitly and raises
      :class:`~mmkd.utils.safe_globals.UnsafeCheckpointError` for
      non-allow-listed pickled objects.
    """
    with _install_lock:
        # A set inside torch: adding the same entries again is a no-op.
        torch.serialization.add_safe_globals(list(SAFE_CHECKPOINT_GLOBALS))

        schemes = dict(CheckpointLoader._schemes)
        for prefix, loader in _MMENGINE_SCHEMES.items():
            schemes.setdefault(prefix, loader)
        for prefix, loader in schemes.items():
            if getattr(loader, '_mmkd_safe_loader', False):
                new_loader = loader
            elif loader in _SAFE_REPLACEMENTS:
                new_loader = _SAFE_REPLACEMENTS[loader]
            else:
                new_loader = _wrap_foreign_loader(loader)
            if CheckpointLoader._schemes.get(prefix) is not new_loader:
                CheckpointLoader.register_scheme(
                    prefix, new_loader, force=True)


def safe_load(path_or_url: PathLike, map_location: Any = 'cpu') -> Any:
    """Load a checkpoint from a path or any mmengine URL scheme, safely.

    Goes through mmengine's ``CheckpointLoader`` (local paths, ``http(s)://``,
    ``torchvision://``, ``open-mmlab://``, ``mmcls://``, ``s3://``, ...) after
    making sure :func:`install_safe_loaders` has run.

    Args:
        path_or_url (str | os.PathLike): A local path or an mmengine URL.
        map_location: As for ``torch.load``. Defaults to ``'cpu'``.

    Returns:
        The loaded checkpoint (usually a dict).

    Raises:
        FileNotFoundError: a local file does not exist.
        UnsafeCheckpointError: the checkpoint holds non-allow-listed objects.
    """
    install_safe_loaders()
    return _mmengine_ckpt._load_checkpoint(
        os.fspath(path_or_url), map_location=map_location, logger='current')
