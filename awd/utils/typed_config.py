"""The one typed-config mechanism: a frozen (or plain) dataclass built from a YAML mapping, each field converted
by its type hint (bool, int, float (finite), non-empty str, Literal choices, Optional, fixed and variable tuples,
nested dataclasses). A wrong type, an unknown key or a value outside a Literal raises a one-line AwdError naming
the file and the dotted key, with what was expected and what was found.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from typing import Any

from awd.errors import AwdError


def build(cls, mapping: Any, source: str, prefix: str, skip: tuple[str, ...] = ()):
    """`cls(**fields)` from `mapping` (every key must be a field of `cls` not in `skip`)."""
    if not isinstance(mapping, dict):
        raise AwdError(source, prefix, f"expected a mapping, got {mapping!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls) if f.name not in skip]
    unknown = sorted(set(mapping) - set(names))
    if unknown:
        close = difflib.get_close_matches(str(unknown[0]), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise AwdError(source, _dotted(prefix, unknown[0]), f"unknown key; {hint}expected one of {names}")
    required = [f.name for f in dataclasses.fields(cls) if f.name in names and f.name not in mapping
                and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if required:
        raise AwdError(source, _dotted(prefix, required[0]), f"missing; expected {_describe(hints[required[0]])}")
    return cls(**{name: convert(hints[name], mapping[name], source, _dotted(prefix, name))
                  for name in names if name in mapping})


def _dotted(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _describe(kind) -> str:
    if dataclasses.is_dataclass(kind):
        return "a mapping"
    if typing.get_origin(kind) is tuple:
        return "a list"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a non-empty string"}.get(kind, "a value")


def convert(kind, value, source: str, key: str):
    """`value` as type `kind`, or a one-line AwdError for `key` of `source`."""
    if dataclasses.is_dataclass(kind):
        return build(kind, value if value is not None else {}, source, key)
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        return None if value is None else convert(options[0], value, source, key)
    if origin is typing.Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise AwdError(source, key, f"expected one of {list(choices)}, got {value!r}")
        return value
    if origin is tuple:
        return _tuple(kind, value, source, key)
    return _scalar(kind, value, source, key)


def _scalar(kind, value, source: str, key: str):
    if kind is bool:
        if not isinstance(value, bool):
            raise AwdError(source, key, f"expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise AwdError(source, key, f"expected an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise AwdError(source, key, f"expected a number, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str) or not value:
            raise AwdError(source, key, f"expected a non-empty string, got {value!r}")
        return value
    raise TypeError(f"unsupported config type {kind} for {key}")


def _tuple(kind, value, source: str, key: str) -> tuple:
    args = typing.get_args(kind)
    if args[-1] is Ellipsis:
        if not isinstance(value, (list, tuple)):
            raise AwdError(source, key, f"expected a list, got {value!r}")
        return tuple(convert(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
    if not isinstance(value, (list, tuple)) or len(value) != len(args):
        raise AwdError(source, key, f"expected a list of {len(args)} numbers, got {value!r}")
    return tuple(convert(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
