"""GKE node shapes as data: the machine types the GKE guide names, their accelerators and allocatable resources.

A GKE node offers its pods less than its machine type has: GKE reserves CPU and memory for the kubelet,
the container runtime and the OS, and keeps 100 MiB for eviction (GKE's "plan node sizes" page):

- CPU: 6% of the first core, 1% of the second, 0.5% of the next two, 0.25% of every core above four;
- memory: 255 MiB on machines under 1 GiB; else 25% of the first 4 GiB, 20% of the next 4 GiB, 10% of the
  next 8 GiB, 6% of the next 112 GiB and 2% of the rest, plus the 100 MiB eviction threshold.

A learner that writes to a bucket shares its pod with the Cloud Storage FUSE sidecar (250m CPU and 256 MiB
by default), so what a learner may request on a pool is the allocatable less the sidecar. DaemonSets
(kube-proxy, logging, the GPU device plugin) take a little more on a real node; `allocatable` does not
count them, which is why the guide's requests leave some room below `largest_learner_request`.

Quantities here are integers: CPU in millicores, memory in MiB.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

MIB_PER_GIB = 1024
EVICTION_MIB = 100
# The Cloud Storage FUSE sidecar's default requests (GKE's gke-gcsfuse-sidecar container).
GCSFUSE_SIDECAR_MILLICPU = 250
GCSFUSE_SIDECAR_MIB = 256

# (cores in this band, reserved fraction of each)
CPU_RESERVATION = ((1, 0.06), (1, 0.01), (2, 0.005), (math.inf, 0.0025))
# (GiB in this band, reserved fraction of each)
MEMORY_RESERVATION = ((4, 0.25), (4, 0.20), (8, 0.10), (112, 0.06), (math.inf, 0.02))


@dataclass(frozen=True)
class MachineShape:
    """One GKE machine type: what it has and which accelerators come with it.

    Attributes:
      name: the machine type (node label node.kubernetes.io/instance-type).
      cpus: vCPUs of the VM.
      memory_gib: memory of the VM in GiB (Compute Engine's "GB" are GiB).
      gpus: NVIDIA GPUs attached (nvidia.com/gpu), with `gpu_type` their GKE accelerator name.
      tpu_chips: TPU chips of the host (google.com/tpu), `tpu_accelerator` and `tpu_topology` its node labels.
    """

    name: str
    cpus: int
    memory_gib: float
    gpus: int = 0
    gpu_type: str | None = None
    tpu_chips: int = 0
    tpu_accelerator: str | None = None
    tpu_topology: str | None = None

    @property
    def allocatable_millicpu(self) -> int:
        """CPU pods may request, in millicores: the vCPUs less GKE's reservation."""
        return self.cpus * 1000 - math.ceil(1000 * _banded(self.cpus, CPU_RESERVATION))

    @property
    def allocatable_mib(self) -> int:
        """Memory pods may request, in MiB: the memory less GKE's reservation and the eviction threshold."""
        total_mib = self.memory_gib * MIB_PER_GIB
        reserved_mib = 255 if self.memory_gib < 1 else MIB_PER_GIB * _banded(self.memory_gib, MEMORY_RESERVATION)
        return math.floor(total_mib - reserved_mib - EVICTION_MIB)

    def largest_learner_request(self) -> tuple[int, int]:
        """(millicores, MiB) a learner may request here beside the Cloud Storage FUSE sidecar."""
        return (self.allocatable_millicpu - GCSFUSE_SIDECAR_MILLICPU, self.allocatable_mib - GCSFUSE_SIDECAR_MIB)


def _banded(amount: float, bands: tuple[tuple[float, float], ...]) -> float:
    """Sum of each band's fraction over the part of `amount` that falls in it."""
    reserved, left = 0.0, amount
    for size, fraction in bands:
        part = min(left, size)
        reserved += part * fraction
        left -= part
        if left <= 0:
            break
    return reserved


SHAPES: dict[str, MachineShape] = {shape.name: shape for shape in (
    MachineShape("e2-standard-8", 8, 32),
    MachineShape("g2-standard-8", 8, 32, gpus=1, gpu_type="nvidia-l4"),
    MachineShape("g2-standard-16", 16, 64, gpus=1, gpu_type="nvidia-l4"),
    MachineShape("ct5lp-hightpu-1t", 24, 48, tpu_chips=1, tpu_accelerator="tpu-v5-lite-podslice", tpu_topology="1x1"),
    MachineShape("ct5lp-hightpu-4t", 112, 192, tpu_chips=4, tpu_accelerator="tpu-v5-lite-podslice", tpu_topology="2x2"),
    MachineShape("ct5lp-hightpu-8t", 224, 384, tpu_chips=8, tpu_accelerator="tpu-v5-lite-podslice", tpu_topology="2x4"),
)}


def tpu_machine(accelerator: str, topology: str) -> MachineShape | None:
    """The machine type in SHAPES whose host is the single-host slice `accelerator` `topology`, if any."""
    for shape in SHAPES.values():
        if shape.tpu_accelerator == accelerator and shape.tpu_topology == topology:
            return shape
    return None


CPU_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m?)$")
MEMORY_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$")
MEMORY_UNIT_MIB = {None: 1 / 2**20, "Ki": 1 / 1024, "Mi": 1, "Gi": 1024, "Ti": 1024**2,
                   "k": 1e3 / 2**20, "M": 1e6 / 2**20, "G": 1e9 / 2**20, "T": 1e12 / 2**20}


def millicpu(quantity: str) -> int:
    """A Kubernetes CPU quantity ("8", "7.5", "500m") in millicores, rounded up."""
    match = CPU_PATTERN.match(quantity)
    if match is None:
        raise ValueError(f"not a CPU quantity: {quantity!r}")
    number, milli = float(match.group(1)), match.group(2)
    return math.ceil(number if milli else number * 1000)


def mebibytes(quantity: str) -> float:
    """A Kubernetes memory quantity ("32Gi", "1.5G", "512Mi") in MiB."""
    match = MEMORY_PATTERN.match(quantity)
    if match is None:
        raise ValueError(f"not a memory quantity: {quantity!r}")
    return float(match.group(1)) * MEMORY_UNIT_MIB[match.group(2)]


def check_learner_fits(shape: MachineShape, cpu: str, memory: str) -> None:
    """Raise ValueError, naming the largest request that fits, if a learner asking `cpu` and `memory`
    cannot be scheduled on a `shape` node beside the Cloud Storage FUSE sidecar."""
    cpu_room, memory_room = shape.largest_learner_request()
    if millicpu(cpu) > cpu_room or mebibytes(memory) > memory_room:
        raise ValueError(
            f"cpu {cpu} and memory {memory} do not fit a {shape.name} node: GKE leaves pods "
            f"{shape.allocatable_millicpu}m CPU and {shape.allocatable_mib}Mi memory there, less "
            f"{GCSFUSE_SIDECAR_MILLICPU}m and {GCSFUSE_SIDECAR_MIB}Mi for the Cloud Storage FUSE sidecar; "
            f"the largest learner request that fits is cpu {cpu_room}m, memory {memory_room}Mi"
        )
