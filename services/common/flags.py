"""Command-line flags derived from pydantic models: one place defines every default.

Each field becomes `--field-name` with its description as help; a nested model's
fields become `--model.field-name`. Flags left out keep the model's default (they
are not even passed to the model), so the model stays the single source of truth.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _json_or_text(text: str) -> Any:
    """A flag of a union type (`4` or `auto`): the JSON value the text spells (4), else the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def add_model_flags(
    parser: argparse.ArgumentParser, model: type[BaseModel], prefix: str = "", exclude: frozenset[str] = frozenset()
) -> None:
    """Add one flag per (nested) field of `model` to `parser`, except the top-level fields in `exclude`."""
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        annotation = _unwrap_optional(info.annotation)
        dest = f"{prefix}{name}"
        if _is_model(annotation):
            add_model_flags(parser, annotation, prefix=f"{dest}.")
            continue
        flag = "--" + dest.replace("_", "-")
        default_text = "" if info.is_required() else f" (default: {info.get_default(call_default_factory=True)})"
        kwargs: dict[str, Any] = {"dest": dest, "default": argparse.SUPPRESS, "help": (info.description or "") + default_text}
        if annotation is not bool and typing.get_origin(annotation) is not Literal:
            kwargs["metavar"] = name.upper()
        if annotation is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        elif typing.get_origin(annotation) is Literal:
            kwargs["choices"] = typing.get_args(annotation)
        elif typing.get_origin(annotation) in (tuple, list):
            item = typing.get_args(annotation)[0]
            kwargs["type"], kwargs["nargs"] = item, "*"
        elif annotation in (int, float, str):
            kwargs["type"] = annotation
        elif typing.get_origin(annotation) in (typing.Union, types.UnionType):
            kwargs["type"] = _json_or_text
        else:
            kwargs["type"] = str
        parser.add_argument(flag, **kwargs)


def model_values(namespace: argparse.Namespace, model: type[BaseModel]) -> dict[str, Any]:
    """The flags of `model` that were given, as a nested dict for `model.model_validate`."""
    values: dict[str, Any] = {}
    for dest, value in vars(namespace).items():
        if dest.split(".")[0] not in model.model_fields:
            continue
        node = values
        *parents, leaf = dest.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return values


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge `override` into a copy of `base` (flags over a config file)."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged
