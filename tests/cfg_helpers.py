"""Helpers shared by the config tests."""


def plain(obj):
    """ConfigDicts/tuples to plain dicts/lists, for equality checks."""
    if isinstance(obj, dict):
        return {k: plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj
