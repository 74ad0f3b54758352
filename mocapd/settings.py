"""Typed settings from plain data: one checker for the config file and for job options.

A settings class is a dataclass whose fields carry their default, and optionally a `choices` tuple
or a `range` (low, high) in the field's metadata. Unknown keys and wrong types are errors naming the key.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class SettingsError(ValueError):
    """A setting is unknown, of the wrong type or out of range; the message names the key."""


def build(cls: type[T], data: dict[str, Any], prefix: str = "", base: T | None = None) -> T:
    """An instance of `cls` from `base` (or the defaults) updated by `data`, checked key by key.

    Every bad key is named in the one SettingsError raised (joined by "; "), so all are fixed at once.
    """
    if not isinstance(data, dict):
        raise SettingsError(f"'{prefix.rstrip('.') or 'settings'}' must be a table/object")
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    errors: list[str] = []
    unknown = sorted(set(data) - set(fields))
    if unknown:
        named = ", ".join(f"'{prefix}{key}'" for key in unknown)
        plural = "s" if len(unknown) > 1 else ""
        errors.append(f"unknown key{plural} {named} (known: {', '.join(sorted(fields))})")
    values: dict[str, Any] = {}
    for name, field in fields.items():
        current = getattr(base, name) if base is not None else None
        if name not in data:
            if current is not None or base is not None:
                values[name] = current
            continue
        hint = hints[name]
        key = prefix + name
        try:
            if dataclasses.is_dataclass(hint):
                values[name] = build(hint, data[name], key + ".", current)  # type: ignore[arg-type]
            else:
                values[name] = check(key, data[name], hint, field.metadata)
        except SettingsError as error:
            errors.append(str(error))
    if errors:
        raise SettingsError("; ".join(errors))
    return cls(**values)


def check(key: str, value: Any, hint: Any, metadata: Any = None) -> Any:
    """`value` if it fits the type `hint` and the field's choices or range, else SettingsError."""
    value = _coerce(key, value, hint)
    metadata = metadata or {}
    choices = metadata.get("choices")
    if choices is not None:
        items = value if isinstance(value, list) else [value]
        for item in items:
            if item is not None and item not in choices:
                raise SettingsError(f"'{key}' must be one of {', '.join(map(str, choices))}, got {item!r}")
    bounds = metadata.get("range")
    if bounds is not None and value is not None:
        low, high = bounds
        if not (low <= value <= high):
            raise SettingsError(f"'{key}' must be between {low} and {high}, got {value!r}")
    return value


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(key, value, option)
            except SettingsError as error:
                errors.append(str(error))
        raise SettingsError(errors[0])
    if origin is list:
        (item_type,) = typing.get_args(hint)
        if not isinstance(value, list):
            raise SettingsError(f"'{key}' must be a list, got {type(value).__name__}")
        return [_coerce(f"{key}[{index}]", item, item_type) for index, item in enumerate(value)]
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SettingsError(f"'{key}' must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SettingsError(f"'{key}' must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SettingsError(f"'{key}' must be true or false, got {value!r}")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise SettingsError(f"'{key}' must be a string, got {value!r}")
        return value
    raise SettingsError(f"'{key}': unsupported setting type {hint}")


def to_dict(instance: Any) -> dict[str, Any]:
    """Plain data (JSON/TOML-ready) from a settings instance."""
    return dataclasses.asdict(instance)
