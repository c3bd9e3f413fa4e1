"""`DevicesSpec`: how the learner uses the accelerators of its node (the spec's `devices` field); `TpuSpec`: the
single-host TPU slice it asks for."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

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


def requested_accelerator(accelerator: Accelerator, gpus: int, tpu: bool) -> Accelerator:
    """The accelerator a learner whose pod is given `gpus` GPUs (or a TPU slice, `tpu`) must use: "auto"
    becomes "gpu" or "tpu", so that a learner that sees none of them fails instead of training on the CPU;
    an explicit choice stays."""
    if accelerator != "auto":
        return accelerator
    return "tpu" if tpu else "gpu" if gpus else "auto"


TpuAccelerator = Literal[
    "tpu-v4-podslice", "tpu-v5-lite-podslice", "tpu-v5-lite-device", "tpu-v5p-slice", "tpu-v6e-slice", "tpu7x",
]

# The topologies of a single-host slice of each GKE TPU accelerator (one node: every chip on one VM).
SINGLE_HOST_TOPOLOGIES: dict[str, tuple[str, ...]] = {
    "tpu-v4-podslice": ("2x2x1",),
    "tpu-v5-lite-podslice": ("1x1", "2x2", "2x4"),
    "tpu-v5-lite-device": ("1x1", "2x2", "2x4"),
    "tpu-v5p-slice": ("2x2x1",),
    "tpu-v6e-slice": ("1x1", "2x2", "2x4"),
    "tpu7x": ("2x2x1",),
}


def topology_chips(topology: str) -> int:
    """Chips of a slice of `topology` ("2x4" -> 8): the product of its dimensions."""
    return math.prod(int(size) for size in topology.split("x"))


class TpuSpec(SpecModel):
    """A single-host GKE TPU slice for the learner."""

    accelerator: TpuAccelerator = Field(description="GKE TPU accelerator (node label cloud.google.com/gke-tpu-accelerator).")
    topology: str = Field(
        pattern=r"^[1-9][0-9]?x[1-9][0-9]?(x[1-9][0-9]?)?$", max_length=11,
        description="Slice topology (node label cloud.google.com/gke-tpu-topology), one host's: 1x1, 2x2 or 2x4 "
                    "on v5e and v6e, 2x2x1 on v4, v5p and tpu7x.",
    )
    chips: int | None = Field(
        None, ge=1, le=8, validate_default=True,
        description="TPU chips requested (google.com/tpu): every chip of the topology; unset, derived from it.",
    )

    @field_validator("topology")
    @classmethod
    def _single_host(cls, topology: str, info: ValidationInfo) -> str:
        accelerator = info.data.get("accelerator")
        if accelerator is None:
            return topology  # reported on `accelerator`
        offered = SINGLE_HOST_TOPOLOGIES[accelerator]
        if topology not in offered:
            raise ValueError(f"a single-host {accelerator} slice has topology {' or '.join(offered)}, not {topology} "
                             "(multi-host slices are not supported)")
        return topology

    @field_validator("chips")
    @classmethod
    def _every_chip_of_the_topology(cls, chips: int | None, info: ValidationInfo) -> int | None:
        topology = info.data.get("topology")
        if topology is None:
            return chips  # reported on `topology`
        needed = topology_chips(topology)
        if chips is not None and chips != needed:
            raise ValueError(f"topology {topology} has {needed} chips, all on one host: a learner takes every chip "
                             f"of its slice, not {chips}")
        return needed
