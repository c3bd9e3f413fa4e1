"""Shared test setup: quiet TensorFlow, the CPU split into logical devices, and what runs serially.

This machine has no GPU, so multi-device code is tested on `LOGICAL_CPUS` logical CPU devices
(`/cpu:0` .. `/cpu:2`), standing in for the GPUs or TPU cores of a learner node. TensorFlow
fixes its devices when it first runs, so they are configured before any test imports it.
Code that does not ask for a device keeps running on `/cpu:0`.
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

LOGICAL_CPUS = 3

# `make test` runs the suite on one pytest-xdist worker per core (`--dist loadgroup`); the tests of each of
# these groups run one after another on one worker. "training": learning runs, chaos, load and the learner
# port's attacks keep every core busy and count frames, updates and seconds, so two at once would slow
# both and change what they measure; they share session runs too (`solved_ppo_cartpole`). "kubernetes":
# the tests share one control plane (a session fixture), which two workers would each start.
SERIAL_GROUPS = {
    "training": (
        "tests/integration/test_train", "tests/integration/test_eval.py", "tests/integration/test_plot.py",
        "tests/integration/test_envs_train.py", "tests/chaos/", "tests/load/", "tests/security/",
    ),
    "kubernetes": ("tests/kubernetes/",),
}


def serial_group(nodeid: str) -> str | None:
    """The group of SERIAL_GROUPS whose tests run one after another that the test `nodeid` is in, if any."""
    return next((group for group, prefixes in SERIAL_GROUPS.items() if nodeid.startswith(prefixes)), None)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Marks the tests of SERIAL_GROUPS for pytest-xdist, before it reads the marks."""
    if item.config.pluginmanager.hasplugin("xdist") and (group := serial_group(item.nodeid)):
        item.add_marker(pytest.mark.xdist_group(group))


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

