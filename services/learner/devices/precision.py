"""Mixed precision: encoders (torso and LSTM core) compute in bfloat16 while variables stay float32.

`mixed_precision(mode)` is entered while an agent is built; an `Encoder` built inside it
creates its layers under Keras's `mixed_bfloat16` policy and hands float32 features and state
to the heads, which stay float32, as do losses and the values the learner stores. bfloat16
keeps float32's exponent range, so no loss scaling is needed (float16 would need it).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

from seedrl.learner.devices.config import MixedPrecision

KERAS_POLICIES: dict[str, str | None] = {"off": None, "bfloat16": "mixed_bfloat16"}
_encoder_policy: str | None = None


@contextlib.contextmanager
def mixed_precision(mode: MixedPrecision) -> Iterator[None]:
    """Encoders built inside compute in `mode` ("off": float32)."""
    global _encoder_policy
    previous, _encoder_policy = _encoder_policy, KERAS_POLICIES[mode]
    try:
        yield
    finally:
        _encoder_policy = previous


@contextlib.contextmanager
def encoder_layers() -> Iterator[None]:
    """Keras layers created inside take the encoders' policy (unchanged when mixed precision is off)."""
    if _encoder_policy is None:
        yield
        return
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(_encoder_policy)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)
