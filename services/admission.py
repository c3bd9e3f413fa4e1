"""Admission: every door an experiment comes in by validates it here, with every rule.

The REST API, the Experiment objects of the Kubernetes runtime, `seedrl train`'s flags and the
changes `scale` and `resume` make all go through `admit`: the spec's own rules plus what the env
packages installed here know (`seedrl.envs.catalogue`).

Admission takes JSON's types as JSON Schema reads them: `"actors": "3"` and `"actors": true` are
not numbers (no coercion), while `3.0` is the integer 3. It validates twice: the input, then the
whole resolved spec that input gives (every field written out, defaults included), so that a rule
which would not look at a default still sees the values that will run, and what is admitted
validates again when it is read back. A spec's hyperparameters not given take the defaults of its
env family and agent first (`seedrl.spec.family_defaults`).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import from_json, to_jsonable_python

from seedrl.envs.catalogue import VALIDATION_CONTEXT
from seedrl.spec.experiment import LearningSpec
from seedrl.spec.family_defaults import fill_in

Model = TypeVar("Model", bound=BaseModel)


def admit(model: type[Model], data: BaseModel | dict[str, Any] | str | bytes) -> Model:
    """`data` validated as `model` with every rule; raises pydantic's ValidationError naming each field.

    `data` is JSON text, a mapping of plain values, or a model instance (validated elsewhere,
    by FastAPI say, without the env checks), which is validated again from the fields it was given.
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_unset=True)
    if isinstance(data, (str, bytes)):
        try:
            data = from_json(data, allow_inf_nan=False)
        except ValueError:
            _validate(model, data)  # raises the ValidationError that says where the JSON is broken
            raise
    data = _whole_numbers(to_jsonable_python(data))
    if issubclass(model, LearningSpec) and isinstance(data, dict):
        fields = LearningSpec.model_fields
        data = fill_in(data, fields["env"].default, fields["agent"].default)
    given = _validate(model, json.dumps(data))
    return _validate(model, given.model_dump_json())


def _validate(model: type[Model], text: str | bytes) -> Model:
    return model.model_validate_json(text, strict=True, context=VALIDATION_CONTEXT)


def _whole_numbers(value: Any) -> Any:
    """`value` with every float that is a whole number (3.0) made an int, as JSON Schema's `integer` counts them."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_whole_numbers(item) for item in value]
    return value
