"""`SpecModel`: the base of every model a spec is made of.

Unknown fields are errors, numbers must be finite, and every field's validators run on its
default as well as on a given value. The last matters for cross-field rules: a rule written on
one field (`min_fill <= capacity` on `min_fill`) must hold for the values that will run, whether
the spec gave them or left them to their defaults.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class SpecModel(BaseModel):
    """A spec model: strict about unknown fields, finite numbers, and validated defaults."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, validate_default=True)
