"""Shared test setup: quiet TensorFlow, and the CPU split into logical devices.

This machine has no GPU, so multi-device code is tested on `LOGICAL_CPUS` logical CPU devices
(`/cpu:0` .. `/cpu:2`), standing in for the GPUs or TPU cores of a learner node. TensorFlow
fixes its devices when it first runs, so they are configured before any test imports it.
Code that does not ask for a device keeps running on `/cpu:0`.
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LOGICAL_CPUS = 3


def pytest_configure(config: pytest.Config) -> None:
    try:
        import tensorflow as tf
    except ImportError:  # the controller-only install has no TensorFlow
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * LOGICAL_CPUS)


@pytest.fixture
def two_replicas():
    """A MirroredStrategy training on logical CPUs 1 and 2 (stand-ins for two GPUs)."""
    import tensorflow as tf

    return tf.distribute.MirroredStrategy(["/cpu:1", "/cpu:2"], cross_device_ops=tf.distribute.ReductionToOneDevice())
