"""One loader for every settings file (the gate's, the fusion's): each field checked for its type and range.

A settings file is read before anything is created, so a bad one costs the user
one line that names the field and what it accepts, never a half-made session.
"""

from __future__ import annotations

import json
import math
import typing
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from engines.errors import EmolensError

T = TypeVar("T")


class SettingsError(EmolensError):
    """A settings file or value that cannot be used; the message names the field and what it accepts."""


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _checked(name: str, kind: Any, value: Any, limits: tuple[float, float] | None) -> Any:
    """`value` as the field's type, or SettingsError saying what the field accepts."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if kind is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"{name} takes true or false, not {value!r}")
        return value
    if kind in (int, float):
        ok = _number(value) and (kind is float or isinstance(value, int))
        lo, hi = limits or (-math.inf, math.inf)
        if not ok or not lo <= value <= hi:
            word = "a whole number" if kind is int else "a number"
            span = (
                f" from {lo:g} to {hi:g}" if limits and math.isfinite(hi) else f" of at least {lo:g}" if limits else ""
            )
            raise SettingsError(f"{name} takes {word}{span}, not {value!r}")
        return kind(value)
    if origin is tuple and args[-1] is Ellipsis:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{name} takes a list of texts, not {value!r}")
        return tuple(value)
    if origin is tuple and args == (float, float):  # (centre, spread): the spread divides, so it must be > 0
        if not (isinstance(value, list | tuple) and len(value) == 2 and all(map(_number, value)) and value[1] > 0):
            raise SettingsError(f"{name} takes [centre, spread] with a spread above 0, not {value!r}")
        return (float(value[0]), float(value[1]))
    raise TypeError(f"no check for {name}: {kind}")  # a programming error: a field type this loader lacks


def settings_from_dict(cls: type[T], data: dict, where: str) -> T:
    """`cls(**data)` with every key known and every value checked; `where` starts each message."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{where}: unknown setting {unknown[0]!r}; known: {', '.join(sorted(known))}")
    limits = getattr(cls, "LIMITS", {})
    try:
        values = {k: _checked(k, hints[k], v, limits.get(k)) for k, v in data.items()}
    except SettingsError as exc:
        raise SettingsError(f"{where}: {exc}") from None
    return cls(**values)


def load_settings(cls: type[T], path: Path, what: str) -> T:
    """A JSON file as `emolens fit-*` writes it (the settings under "settings") or a bare settings object."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise SettingsError(f"cannot read {what} settings {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SettingsError(f"{path} is not a JSON file of {what} settings ({exc})") from None
    if isinstance(data, dict) and isinstance(data.get("settings"), dict):
        data = data["settings"]
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: {what} settings must be a JSON object of name: value")
    return settings_from_dict(cls, data, str(path))
