"""Facts about the machine the benchmarks run on: CPUs, memory, TensorFlow and the GPUs it sees."""

from __future__ import annotations

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any


def gpu_names() -> list[str]:
    """The GPUs TensorFlow sees here (tf.config.list_physical_devices('GPU')), by model name where known."""
    import tensorflow as tf

    return [
        tf.config.experimental.get_device_details(gpu).get("device_name", gpu.name)
        for gpu in tf.config.list_physical_devices("GPU")
    ]


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what `platform` knows."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def memory_gib() -> float:
    """Physical memory in GiB."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def machine_facts() -> dict[str, Any]:
    """What the doc states about the machine, as JSON values; the date is now, in UTC."""
    import tensorflow as tf

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "memory_gib": round(memory_gib(), 1),
        "platform": f"{platform.system()} {platform.machine()}",
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "gpus": gpu_names(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
