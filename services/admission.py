"""Admission: every door an experiment comes in by validates it here, with every rule.

The REST API, the Experiment objects of the Kubernetes runtime, `seedrl train`'s flags and the
changes `scale` and `resume` make all go through `admit`: the spec's own rules plus what the env
packages installed here know (`seedrl.envs.catalogue`).

Admission is strict about types, as JSON is: `"actors": "3"` and `"actors": true` are not
numbers. It validates twice: the input, then the whole resolved spec that input gives (every
field written out, defaults included), so that a rule which would not look at a default still
sees the values that will run, and what is admitted validates again when it is read back.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from seedrl.envs.catalogue import VALIDATION_CONTEXT

Model = TypeVar("Model", bound=BaseModel)


def admit(model: type[Model], data: BaseModel | dict[str, Any] | str | bytes) -> Model:
    """`data` validated as `model` with every rule; raises pydantic's ValidationError naming each field.

    `data` is JSON text, a mapping of plain values, or a model instance (validated elsewhere,
    by FastAPI say, without the env checks), which is validated again from the fields it was given.
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json", exclude_unset=True)
    text = data if isinstance(data, (str, bytes)) else json.dumps(to_jsonable_python(data))
    given = model.model_validate_json(text, strict=True, context=VALIDATION_CONTEXT)
    return model.model_validate_json(given.model_dump_json(), strict=True, context=VALIDATION_CONTEXT)
