"""Mixed precision: encoders (torso and LSTM core) compute in bfloat16 or float16 while variables stay float32.

`mixed_precision(mode)` is entered while an agent is built; an `Encoder` built inside it
creates its layers under Keras's `mixed_bfloat16` or `mixed_float16` policy and hands float32
features and state to the heads, which stay float32, as do losses and the values the learner
stores. bfloat16 keeps float32's exponent range, so it needs no loss scaling. float16 does:
optimizers built inside are `loss_scaled`, and `replicas.gradients` differentiates the loss
times the optimizer's dynamic scale, so that small gradients survive the float16 backward pass
(Micikevicius et al., 2018).
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import keras

from seedrl.spec.devices import MixedPrecision

KERAS_POLICIES: dict[str, str | None] = {"off": None, "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
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


def loss_scaled(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """`optimizer` wrapped in Keras's dynamic `LossScaleOptimizer` when encoders compute in float16.

    The wrapper divides the gradients by its scale before the inner optimizer applies them, skips
    a step whose gradients are not all finite and halves its scale, and doubles the scale after
    2,000 finite steps in a row. Unchanged for other modes.
    """
    if _encoder_policy != KERAS_POLICIES["float16"]:
        return optimizer
    return keras.optimizers.LossScaleOptimizer(optimizer)


def checkpointed(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """The optimizer whose state a checkpoint holds: the inner one of a loss-scaled optimizer.

    Checkpoints are then the same with and without float16, so a run can change `mixed_precision`
    when it resumes; the loss scale, not saved, starts again from 2^15 (a few skipped steps at most).
    """
    if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        return optimizer.inner_optimizer
    return optimizer
