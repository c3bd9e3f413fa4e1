"""The learner's devices from its spec: a `DevicePlan` and the `tf.distribute` strategy that trains on it."""

from __future__ import annotations

import logging

import tensorflow as tf

from seedrl.spec.devices import DevicesSpec
from seedrl.learner.devices.plan import (
    DevicePlan, missing_devices, plan_devices, tpu_runtime_present, visible_devices,
)

log = logging.getLogger(__name__)


def connect_tpu() -> tuple[tf.distribute.cluster_resolver.TPUClusterResolver, tf.tpu.experimental.Topology]:
    """Connect to the TPU slice of this host (a TPU VM or a GKE TPU pod) and initialise it."""
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    tf.config.experimental_connect_to_cluster(resolver)
    return resolver, tf.tpu.experimental.initialize_tpu_system(resolver)


def split_cpu(count: int) -> None:
    """Make the CPU `count` logical devices (sharing its cores), so a CPU learner can run a multi-device plan.

    Possible only before TensorFlow first runs; otherwise the devices stay as they are.
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    if count > 1 and tf.config.get_logical_device_configuration(cpu) is None:
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        except RuntimeError:
            log.warning("TensorFlow is already running; the CPU stays %s", tf.config.list_logical_devices("CPU"))


def learner_devices(spec: DevicesSpec) -> tuple[DevicePlan, tf.distribute.Strategy]:
    """Plan the devices TensorFlow sees as `spec` asks and build the strategy that trains on them.

    - one training device: the default strategy when inference shares it, else OneDeviceStrategy;
    - several GPUs: MirroredStrategy with NCCL all-reduce; several CPUs: MirroredStrategy reducing on one;
    - TPU: TPUStrategy over the first `training` cores of the slice; the other cores serve inference.
      (This path needs a TPU host and is not exercised by the test suite.)
    """
    if spec.accelerator == "cpu":
        split_cpu((spec.inference or 0) + (spec.training or 1))
    tpu = None
    if spec.accelerator == "tpu" or spec.accelerator == "auto" and tpu_runtime_present():
        try:
            tpu = connect_tpu()
        except (tf.errors.OpError, ValueError) as error:  # no TPU, or a runtime that cannot reach one
            raise missing_devices(spec, "TPU", str(error).splitlines()[0]) from error
    kind, devices = visible_devices(spec.accelerator)
    plan = plan_devices(spec, kind, devices)
    if tpu is not None:
        resolver, topology = tpu
        assignment = tf.tpu.experimental.DeviceAssignment.build(topology, num_replicas=len(plan.training))
        return plan, tf.distribute.TPUStrategy(resolver, experimental_device_assignment=assignment)
    if len(plan.training) == 1:
        if plan.shared:
            return plan, tf.distribute.get_strategy()
        return plan, tf.distribute.OneDeviceStrategy(plan.training[0])
    reduce = tf.distribute.NcclAllReduce() if kind == "GPU" else tf.distribute.ReductionToOneDevice()
    return plan, tf.distribute.MirroredStrategy(list(plan.training), cross_device_ops=reduce)

