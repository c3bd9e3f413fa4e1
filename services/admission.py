"""Admission: every door an experiment comes in by validates it here, with every rule.

The REST API, the Experiment objects of the Kubernetes runtime, `seedrl train`'s flags and the
changes `scale` and `resume` make all go through `admit`: the spec's own rules plus what the env
packages installed here know (`seedrl.envs.catalogue`).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from seedrl.envs.catalogue import VALIDATION_CONTEXT

Model = TypeVar("Model", bound=BaseModel)


def admit(model: type[Model], data: BaseModel | dict[str, Any]) -> Model:
    """`data` validated as `model` with every rule; raises pydantic's ValidationError naming each field.

    A model instance (validated by FastAPI, say, without the env checks) is validated again from
    the fields it was given.
    """
    if isinstance(data, BaseModel):
        data = data.model_dump(exclude_unset=True)
    return model.model_validate(data, context=VALIDATION_CONTEXT)
