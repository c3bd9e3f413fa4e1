"""Hypothesis strategies that draw experiment spec bodies from the spec models themselves.

Each body sets a random subset of the fields of ExperimentSpec and of the models it holds, with
values drawn from each field's type and bounds (`ge`, `le`, `Literal` choices, patterns), so every
rule of the models gets exercised; a body may break a cross-field rule, and is then to be refused.
"""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types as at
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from seedrl.spec.experiment import ExperimentSpec

# Fields whose values come from a list (real env ids, names) rather than from their type.
ENVS = ["gym:CartPole-v1", "gym:Pendulum-v1", "gym:Acrobot-v1", "atari:Pong", "mujoco:HalfCheetah-v5",
        "dmlab:explore_goal_locations_small", "football:academy_empty_goal_close", "gym:NoSuchEnv-v0"]
CHOSEN: dict[str, st.SearchStrategy[Any]] = {
    "env": st.sampled_from(ENVS),
    "resume_from": st.none(),  # names a checkpoint on disk: the API tests cover it
    "level_cache_dir": st.sampled_from([None, "levels", "../levels", "/tmp/levels"]),
    "gpu_type": st.sampled_from([None, "nvidia-l4"]),
    "topology": st.sampled_from(["2x2", "2x4", "4x4"]),
}
SMALL = 64  # half the integers are drawn near their lower bound, where most valid specs lie


def _bounds(field: FieldInfo) -> tuple[float | None, float | None, bool, bool]:
    """(low, high, low excluded, high excluded) from a field's constraints."""
    low = high = None
    low_open = high_open = False
    for item in field.metadata:
        if isinstance(item, at.Ge):
            low = item.ge
        elif isinstance(item, at.Gt):
            low, low_open = item.gt, True
        elif isinstance(item, at.Le):
            high = item.le
        elif isinstance(item, at.Lt):
            high, high_open = item.lt, True
    return low, high, low_open, high_open


def _of_type(annotation: Any, field: FieldInfo) -> st.SearchStrategy[Any]:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Literal:
        return st.sampled_from(args)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[st.none() if arg is type(None) else _of_type(arg, field) for arg in args])
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return model_bodies(annotation)
    if origin is tuple:
        return st.lists(st.integers(1, 512), min_size=1, max_size=4)
    if annotation is bool:
        return st.booleans()
    low, high, low_open, high_open = _bounds(field)
    if annotation is int:
        low_int = int(low) + low_open if low is not None else -(2**31)
        high_int = int(high) - high_open if high is not None else 2**31
        return st.one_of(st.integers(low_int, min(high_int, low_int + SMALL)), st.integers(low_int, high_int))
    if annotation is float:
        return st.floats(low, high, exclude_min=low_open and low is not None, exclude_max=high_open and high is not None,
                         allow_nan=False, allow_infinity=False)
    pattern = next((item.pattern for item in field.metadata if getattr(item, "pattern", None)), None)
    return st.from_regex(pattern, fullmatch=True) if pattern else st.text(max_size=20)


def model_bodies(model: type[BaseModel]) -> st.SearchStrategy[dict[str, Any]]:
    """A mapping of a random subset of `model`'s fields (and their models' fields) to drawn values."""
    fields = {name: CHOSEN[name] if name in CHOSEN else _of_type(info.annotation, info)
              for name, info in model.model_fields.items() if name != "name"}
    return st.fixed_dictionaries({}, optional=fields)


def spec_bodies() -> st.SearchStrategy[dict[str, Any]]:
    """An ExperimentSpec body: a valid name and any subset of the other fields."""
    return st.builds(lambda name, body: {"name": name, **body},
                     st.from_regex(r"^[a-z][a-z0-9]{0,10}$", fullmatch=True), model_bodies(ExperimentSpec))
