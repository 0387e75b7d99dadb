"""Atomic file writes: a file is there whole (old or new) or not at all.

Writing a file in place (``open(path, 'w').write(...)``) leaves a truncated
file under the final name when the process dies or the disk fills up
mid-write, and the next reader (a resume, a cache lookup) takes it for a
whole one. Every write in mmkd that others read back goes through
:func:`atomic_open` instead:

1. the data goes to a temporary file ``.<name>.<random>.tmp`` in the same
   directory (hence the same file system);
2. it is flushed and ``fsync``'ed;
3. it is moved over the final name with :func:`os.replace` (atomic on POSIX
   and Windows);
4. the directory is ``fsync``'ed, so the rename itself survives a power
   loss.

On an exception the temporary file is removed and the target is left
untouched; a process killed outright may leave the temporary file behind,
never a truncated target. :func:`atomic_write_bytes`,
:func:`atomic_write_text`, :func:`atomic_write_json` and
:func:`atomic_torch_save` are built on it.
"""
import json
import os
import os.path as osp
import tempfile
from contextlib import contextmanager
from typing import IO, Any, Iterator, List, Optional, Union

__all__ = [
    'atomic_open', 'atomic_write_bytes', 'atomic_write_text',
    'atomic_write_json', 'atomic_torch_save'
]

PathLike = Union[str, 'os.PathLike[str]']

_umask_cache: List[int] = []


def _umask() -> int:
    """The process umask, read without changing it where possible."""
    if not _umask_cache:
        value = None
        try:  # Linux >= 4.7: read it without changing it (thread-safe)
            with open('/proc/self/status') as f:
                for line in f:
                    if line.startswith('Umask:'):
                        value = int(line.split()[1], 8)
                        break
        except (OSError, ValueError):
            pass
        if value is None:
            value = os.umask(0o022)
            os.umask(value)
        _umask_cache.append(value)
    return _umask_cache[0]


def _fsync_dir(dirname: str) -> None:
    """Persist a rename; not supported on every OS / file system."""
    try:
        fd = os.open(dirname, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_open(filepath: PathLike,
                mode: str = 'wb',
                encoding: Optional[str] = None,
                newline: Optional[str] = None) -> Iterator[IO]:
    """Open a temporary file next to ``filepath``; on success move it there.

    Use it like ``open`` in a ``with`` statement::

        with atomic_open('work_dir/result.json', 'w') as f:
            json.dump(result, f)

    The parent directory is created if needed. A symlink at ``filepath`` is
    written through (its target is replaced), as ``open`` would. The new
    file gets the mode ``open`` would give it (that of the file it
    replaces, else ``0o666`` minus the umask), not ``mkstemp``'s ``0o600``.

    Args:
        filepath (str | os.PathLike): The final path.
        mode (str): ``'wb'`` (default) or ``'w'`` (text). Only whole-file
            writes can be atomic: append and update modes are refused.
        encoding (str, optional): Text encoding; defaults to ``'utf-8'`` in
            text mode (not the locale's).
        newline (str, optional): As for ``open`` in text mode.

    Yields:
        The open temporary file.

    Raises:
        ValueError: ``mode`` is not ``'w'``/``'wt'``/``'wb'``.
    """
    if mode not in ('w', 'wt', 'wb'):
        raise ValueError(
            f"atomic_open: mode must be 'w' or 'wb', got {mode!r}; appending"
            ' to or updating a file cannot be made atomic, write the whole '
            'content instead')
    binary = mode == 'wb'
    if binary and (encoding is not None or newline is not None):
        raise ValueError('atomic_open: encoding/newline are for text mode')
    filepath = os.fspath(filepath)
    # Like open(): write through a symlink rather than replacing the link.
    target = osp.realpath(filepath) if osp.islink(filepath) else filepath
    dirname = osp.dirname(osp.abspath(target))
    os.makedirs(dirname, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        prefix=f'.{osp.basename(target)}.', suffix='.tmp', dir=dirname)
    try:
        if binary:
            f = os.fdopen(fd, 'wb')
        else:
            f = os.fdopen(
                fd, 'w', encoding=encoding or 'utf-8', newline=newline)
        with f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        try:
            mode_bits = os.stat(target).st_mode & 0o7777
        except OSError:
            mode_bits = 0o666 & ~_umask()
        os.chmod(tmp_path, mode_bits)
        os.replace(tmp_path, target)
    except BaseException:
        try:
            os.unlink(tmp_path)
        except OSError:
            pass
        raise
    _fsync_dir(dirname)


def atomic_write_bytes(data: bytes, filepath: PathLike) -> None:
    """Write ``data`` to ``filepath`` atomically (see :func:`atomic_open`).
    """
    with atomic_open(filepath, 'wb') as f:
        f.write(data)


def atomic_write_text(text: str,
                      filepath: PathLike,
                      encoding: str = 'utf-8') -> None:
    """Write ``text`` to ``filepath`` atomically (see :func:`atomic_open`).

    Newlines are written as given (no platform translation).
    """
    with atomic_open(filepath, 'w', encoding=encoding, newline='') as f:
        f.write(text)


def atomic_write_json(obj: Any, filepath: PathLike, **dump_kwargs) -> None:
    """``json.dump(obj, f, **dump_kwargs)`` into ``filepath``, atomically.

    The object is serialised before the file is created, so an object that
    is not JSON-serialisable leaves no trace.
    """
    text = json.dumps(obj, **dump_kwargs)
    atomic_write_text(text, filepath)


def atomic_torch_save(obj: Any, path: PathLike, **kwargs) -> None:
    """``torch.save(obj, path, **kwargs)``, written whole or not at all."""
    import torch
    with atomic_open(path, 'wb') as f:
        torch.save(obj, f, **kwargs)
