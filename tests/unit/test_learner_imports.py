"""A learner process imports TensorFlow without matplotlib (`seedrl.cli.without_plotting`), which
TensorFlow's import would otherwise load through Keras's plotting helpers when it is installed."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
{setup}
import tensorflow as tf
assert int(tf.constant(2) * 3) == 6
print(",".join(sorted(name for name in sys.modules if name.split(".")[0] == "matplotlib" and sys.modules[name])))
"""


def loaded_matplotlib_modules(setup: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", PROBE.format(setup=setup)], capture_output=True, text=True,
                          timeout=120, check=True)
    return [name for name in done.stdout.strip().splitlines()[-1].split(",") if name] if done.stdout.strip() else []


def test_tensorflow_imports_and_works_without_matplotlib():
    assert "matplotlib.pyplot" in loaded_matplotlib_modules("")  # installed (dev extra): TensorFlow loads it
    assert loaded_matplotlib_modules("from seedrl.cli import without_plotting; without_plotting()") == []
