"""Helpers shared by the config tests."""
from mmkd.utils.plain import to_plain as plain  # noqa: F401  for the tests


def student_recipe(cfg, key):
    """``plain(cfg[key])``; for ``optim_wrapper``, without the
    ``paramwise_cfg`` keys that only touch the distiller's own parts
    (``distill_items.*``, e.g. a fixed connector): the student trains as
    its baseline does. Other paramwise keys stay and must match."""
    value = plain(cfg.get(key))
    if key == 'optim_wrapper' and isinstance(value, dict):
        custom = (value.get('paramwise_cfg') or {}).get('custom_keys') or {}
        kept = {k: v for k, v in custom.items()
                if not k.startswith('distill_items.')}
        if custom:
            paramwise = dict(value['paramwise_cfg'], custom_keys=kept)
            if not kept:
                paramwise.pop('custom_keys')
            if paramwise:
                value['paramwise_cfg'] = paramwise
            else:
                value.pop('paramwise_cfg')
    return value
