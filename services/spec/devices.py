"""`DevicesSpec`: how the learner uses the accelerators of its node (the spec's `devices` field)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seedrl.spec.base import SpecModel

Accelerator = Literal["auto", "gpu", "tpu", "cpu"]
MixedPrecision = Literal["off", "bfloat16", "float16"]


class DevicesSpec(SpecModel):
    """Which of the learner's devices run inference and which train (docs/devices.md)."""

    accelerator: Accelerator = Field(
        "auto", description="Device kind the learner uses: auto (TPU when a TPU runtime is present, else every GPU "
                            "TensorFlow sees, else the CPU), gpu, tpu or cpu.",
    )
    inference: int | None = Field(
        None, ge=0, le=64,
        description="Devices that serve inference; 0 shares the first training device (live weights). "
                    "Unset: 0 with one device, else a quarter of the devices (at least one).",
    )
    training: int | None = Field(
        None, ge=1, le=256, description="Devices that train (replicas of tf.distribute). Unset: the devices not serving inference.",
    )
    weight_refresh_steps: int = Field(
        1, ge=1, le=100_000,
        description="Train steps between copies of the trained weights to separate inference devices.",
    )
    mixed_precision: MixedPrecision = Field(
        "off", description="bfloat16 or float16: encoders compute in that type and keep float32 variables, losses "
                           "and outputs; float16 adds dynamic loss scaling.",
    )
    jit_compile: bool = Field(
        False, description="Compile the train step with XLA (one training device; TPU steps are always compiled).",
    )
