"""Helpers shared by the config tests."""
from mmkd.utils.plain import to_plain as plain  # noqa: F401  for the tests
