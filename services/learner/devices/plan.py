"""`DevicePlan`: which of the learner's devices serve inference and which train.

SEED keeps inference and training on one accelerator, or on TPU reserves some cores for
inference and trains on the rest. `plan_devices` does the same from what TensorFlow sees:

- one device: inference shares it with training and reads the live weights;
- N >= 2 accelerators: a quarter of them (at least one) serve inference, the rest train;
- the CPU alone is never split unless the spec asks (its logical devices share the same cores).

`devices.inference` and `devices.training` in the spec override the counts.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass

import tensorflow as tf

from seedrl.spec.devices import DevicesSpec

# Set in TPU VM pods (GKE) and TPU VMs: a TPU runtime is there to connect to.
TPU_ENVIRONMENT = ("TPU_WORKER_HOSTNAMES", "TPU_NAME", "TPU_ACCELERATOR_TYPE")


@dataclass(frozen=True)
class DevicePlan:
    """Device names of one learner.

    Attributes:
      kind: "GPU", "TPU" or "CPU".
      inference: devices serving inference, round-robin; empty when inference shares `training[0]`.
      training: devices holding a replica each of the trained variables.
    """

    kind: str
    inference: tuple[str, ...]
    training: tuple[str, ...]

    @property
    def shared(self) -> bool:
        """Inference runs on the first training device, with the live weights."""
        return not self.inference

    @property
    def inference_devices(self) -> tuple[str, ...]:
        """Where inference runs: its own devices, or the first training device."""
        return self.inference or self.training[:1]

    def describe(self) -> str:
        inference = "shares " + self.training[0] if self.shared else ", ".join(self.inference)
        return f"{self.kind} inference: {inference}; training ({len(self.training)} replicas): {', '.join(self.training)}"


class MissingDevices(ValueError):
    """The spec (or the pod's resources) ask for accelerators TensorFlow does not see: the learner fails
    rather than train on the CPU."""


# Why a GPU or TPU may be invisible, by device kind.
MISSING_HINTS = {
    "GPU": "GKE mounts the NVIDIA driver at /usr/local/nvidia, which must be on LD_LIBRARY_PATH "
           "(the learner image's gpu target sets it), and the pod must request nvidia.com/gpu",
    "TPU": "the pod must request google.com/tpu on a TPU node and the image have tensorflow-tpu and libtpu "
           "(the learner image's tpu target)",
}


def missing_devices(spec: DevicesSpec, kind: str, cause: str = "") -> MissingDevices:
    """The error of a learner that sees no `kind` device (`cause`: what TensorFlow said, if anything)."""
    hint = f": {MISSING_HINTS[kind]}" if kind in MISSING_HINTS else ""
    said = f" ({cause})" if cause else ""
    return MissingDevices(f"devices.accelerator is {spec.accelerator}, but TensorFlow sees no {kind} device{said}; "
                          f"the learner does not fall back to the CPU{hint}")


def tpu_runtime_present() -> bool:
    """A TPU runtime to connect to: TPU environment variables or the libtpu package."""
    return any(os.environ.get(name) for name in TPU_ENVIRONMENT) or importlib.util.find_spec("libtpu") is not None


def visible_devices(accelerator: str) -> tuple[str, list[str]]:
    """(kind, device names) of the accelerator the spec asks for; "auto" takes TPU, GPU, CPU in that order.

    TPU devices appear only after `connect_tpu` (the strategy module connects when the plan is TPU).
    """
    if accelerator == "tpu" or (accelerator == "auto" and tpu_runtime_present()):
        return "TPU", [device.name for device in tf.config.list_logical_devices("TPU")]
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if accelerator == "gpu" or (accelerator == "auto" and gpus):
        return "GPU", gpus
    return "CPU", [device.name for device in tf.config.list_logical_devices("CPU")]


def plan_devices(spec: DevicesSpec, kind: str, devices: list[str]) -> DevicePlan:
    """The plan for `devices` (names, in order) of `kind`, as `spec` asks; ValueError when they are too few."""
    if not devices:
        raise missing_devices(spec, kind)
    available = len(devices)
    if kind == "CPU" and spec.inference is None and spec.training is None:
        return DevicePlan(kind, (), tuple(devices[:1]))
    inference = spec.inference
    if inference is None:
        if spec.training is not None:
            inference = min(available - spec.training, max(1, available // 4)) if available > spec.training else 0
        else:
            inference = 0 if available == 1 else max(1, available // 4)
    training = spec.training if spec.training is not None else max(1, available - inference)
    if inference + training > available:
        raise ValueError(
            f"devices.inference ({inference}) + devices.training ({training}) need {inference + training} "
            f"{kind} devices; TensorFlow sees {available}: {', '.join(devices)}"
        )
    if spec.jit_compile and training > 1 and kind != "TPU":
        raise ValueError(
            f"devices.jit_compile needs one training device, not {training}: XLA cannot compile a step whose "
            "variables live on several devices (on TPU the step is always compiled)"
        )
    return DevicePlan(kind, tuple(devices[training:training + inference]), tuple(devices[:training]))
