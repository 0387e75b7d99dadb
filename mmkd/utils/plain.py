"""Config / numpy containers to plain Python values.

* :func:`to_plain`: ``ConfigDict``/dicts, lists/tuples and numpy values to
  built-in ``dict``/``list``/scalars: for equality checks of configs, JSON,
  and metadata that must load under torch's weights-only unpickler.
* :func:`canonical`: a stable, JSON-ready form of a config for hashing
  (cache keys): keys sorted, floats as their ``repr``, anything that is not
  a plain scalar as its ``repr``. Its output defines existing cache keys
  (the quickstart's teacher cache, the efficacy benchmark's runs), so it
  must not change.
"""
import math
from typing import Any

import numpy as np

__all__ = ['to_plain', 'canonical']


def to_plain(obj: Any, keep_tuples: bool = False) -> Any:
    """Recursively convert containers and numpy values to built-in types.

    * dicts (``ConfigDict``, ``OrderedDict``, ...) become ``dict`` with
      ``str`` keys, in their order;
    * lists and tuples become ``list`` (``tuple`` if ``keep_tuples``);
    * numpy scalars become Python scalars, numpy arrays nested lists;
    * anything else (str, int, float, bool, None, tensors, ...) is returned
      as is.

    Args:
        obj: The value to convert.
        keep_tuples (bool): Keep tuples as tuples instead of lists.

    Returns:
        The converted value; ``obj`` itself is not modified.
    """
    if isinstance(obj, dict):
        return {str(k): to_plain(v, keep_tuples) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        items = [to_plain(v, keep_tuples) for v in obj]
        return tuple(items) if keep_tuples and isinstance(obj, tuple) \
            else items
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def canonical(obj: Any) -> Any:
    """A stable, JSON-serialisable form of ``obj`` for hashing.

    Dicts get ``str`` keys in sorted order (sorted by the original keys),
    lists and tuples become lists, finite floats their ``repr`` (so that
    ``0.1`` hashes the same everywhere), and any value that is not an int,
    str, bool, None or float its ``repr``.

    Args:
        obj: A config (``Config.to_dict()``) or any nested value.

    Returns:
        The canonical form; feed it to ``json.dumps(..., sort_keys=True)``.
    """
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items())}
    if isinstance(obj, (list, tuple)):
        return [canonical(v) for v in obj]
    if isinstance(obj, float) and math.isfinite(obj):
        return repr(obj)
    return obj if isinstance(obj, (int, str, bool, type(None))) else repr(obj)
