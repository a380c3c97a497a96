"""Reading what an earlier run saved in the app's QSettings: one helper, for the launcher and the window."""

from __future__ import annotations

from typing import Any


def remembered(settings: Any, key: str, kind: type, default: Any) -> Any:
    """A setting saved by an earlier run, as ``kind`` (bool, list of str, or a type that takes the text), or
    ``default`` where there is none or it is not one (QSettings keeps INI values as text, and a one-item list as its
    item; a settings file edited by hand may hold anything: a bad value must not stop a start)."""
    value = settings.value(key) if settings is not None else None
    if value is None or value == "":
        return default
    try:
        if kind is bool:
            return value in (True, "true", "1", 1)
        if kind is list:
            return [str(v) for v in (value if isinstance(value, list) else [value])]
        if kind is str and not isinstance(value, str):  # a list: an unquoted comma in a hand-written value
            return default
        return kind(value)
    except (TypeError, ValueError):
        return default
