"""GKE node shapes as data (seedrl.spec.node_shapes) and the learner resources the spec admits on them.

The allocatable figures are GKE's published reservation formula applied to each machine type; the
expected values below are worked out by hand from that formula (each step in the comment), so a change
to the bands or to a machine's size shows here.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from seedrl.spec.devices import SINGLE_HOST_TOPOLOGIES, TpuSpec, requested_accelerator, topology_chips
from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.node_shapes import SHAPES, mebibytes, millicpu, tpu_machine


def test_allocatable_follows_gkes_reservation_formula():
    g2 = SHAPES["g2-standard-8"]
    # CPU: 8000m - (60 + 10 + 2 x 5 + 4 x 2.5) = 7910m
    assert g2.allocatable_millicpu == 7910
    # memory: 32768Mi - 1024 x (4 x .25 + 4 x .20 + 8 x .10 + 16 x .06) - 100 = 32768 - 3645.44 - 100
    assert g2.allocatable_mib == 29022
    tpu = SHAPES["ct5lp-hightpu-4t"]
    # CPU: 112000m - (60 + 10 + 10 + 108 x 2.5) = 111650m
    assert tpu.allocatable_millicpu == 111650
    # memory: 192 GiB; the 6% band takes 112 GiB, the 2% band the last 64 GiB
    reserved_gib = 4 * .25 + 4 * .20 + 8 * .10 + 112 * .06 + 64 * .02
    assert tpu.allocatable_mib == int(192 * 1024 - reserved_gib * 1024 - 100)
    assert g2.largest_learner_request() == (7910 - 250, 29022 - 256)


def test_every_shape_offers_less_than_its_machine_and_more_with_a_bigger_one():
    for shape in SHAPES.values():
        assert 0 < shape.allocatable_millicpu < shape.cpus * 1000
        assert 0 < shape.allocatable_mib < shape.memory_gib * 1024
    assert SHAPES["g2-standard-16"].allocatable_mib > SHAPES["g2-standard-8"].allocatable_mib


def test_quantities_are_read_as_kubernetes_reads_them():
    assert millicpu("8") == 8000 and millicpu("7.5") == 7500 and millicpu("250m") == 250
    assert mebibytes("32Gi") == 32 * 1024 and mebibytes("512Mi") == 512 and mebibytes("1G") == pytest.approx(953.67, abs=.01)
    with pytest.raises(ValueError, match="not a CPU quantity"):
        millicpu("8 cores")


def learner(**resources) -> ExperimentSpec:
    return ExperimentSpec(name="pong", resources={"learner": resources})


def error_of(**resources) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        learner(**resources)
    (error,) = caught.value.errors()
    return error["loc"], error["msg"]


def test_a_learner_asking_for_the_whole_machine_is_refused_naming_what_fits():
    """8 CPU and 32Gi on a g2-standard-8 never schedule: GKE keeps some of it and the FUSE sidecar more."""
    loc, message = error_of(gpu=1, gpu_type="nvidia-l4", machine_type="g2-standard-8", cpu="8", memory="32Gi")
    assert loc == ("resources", "learner", "machine_type")
    assert "do not fit a g2-standard-8 node" in message
    assert "the largest learner request that fits is cpu 7660m, memory 28766Mi" in message


def test_the_largest_request_that_fits_is_admitted_and_one_more_is_not():
    cpu, memory = SHAPES["g2-standard-8"].largest_learner_request()
    learner(gpu=1, gpu_type="nvidia-l4", machine_type="g2-standard-8", cpu=f"{cpu}m", memory=f"{memory}Mi")
    for over in ({"cpu": f"{cpu + 1}m", "memory": f"{memory}Mi"}, {"cpu": f"{cpu}m", "memory": f"{memory + 1}Mi"}):
        loc, _ = error_of(gpu=1, gpu_type="nvidia-l4", machine_type="g2-standard-8", **over)
        assert loc[-1] == "machine_type"


def test_the_pool_must_have_the_gpus_asked_for():
    _, message = error_of(gpu=2, gpu_type="nvidia-l4", machine_type="g2-standard-8")
    assert "has 1 nvidia-l4 GPUs; the learner asks for 2" in message
    _, message = error_of(gpu=1, gpu_type="nvidia-tesla-t4", machine_type="g2-standard-16")
    assert "nvidia-tesla-t4" in message


def test_a_machine_type_without_a_known_shape_is_selected_but_not_checked():
    assert learner(gpu=1, machine_type="a2-highgpu-1g", cpu="64").resources.learner.machine_type == "a2-highgpu-1g"


def test_a_tpu_learner_is_checked_against_the_host_of_its_slice():
    assert tpu_machine("tpu-v5-lite-podslice", "2x4") is SHAPES["ct5lp-hightpu-8t"]
    learner(tpu={"accelerator": "tpu-v5-lite-podslice", "topology": "2x2"}, cpu="100", memory="160Gi")
    loc, message = error_of(tpu={"accelerator": "tpu-v5-lite-podslice", "topology": "1x1"}, cpu="30")
    assert loc[-1] == "machine_type" and "ct5lp-hightpu-1t" in message
    _, message = error_of(tpu={"accelerator": "tpu-v5-lite-podslice", "topology": "2x2"}, machine_type="ct5lp-hightpu-8t")
    assert "is not a tpu-v5-lite-podslice 2x2 slice" in message


@pytest.mark.parametrize(("accelerator", "topology", "chips"), [
    ("tpu-v5-lite-podslice", "2x4", 8), ("tpu-v5-lite-device", "2x2", 4), ("tpu-v5-lite-device", "1x1", 1),
    ("tpu7x", "2x2x1", 4), ("tpu-v6e-slice", "2x4", 8),
])
def test_chips_are_derived_from_the_topology(accelerator, topology, chips):
    assert TpuSpec(accelerator=accelerator, topology=topology).chips == chips
    assert TpuSpec(accelerator=accelerator, topology=topology, chips=chips).chips == chips


def test_chips_that_disagree_with_the_topology_are_refused_on_chips():
    loc, message = error_of(tpu={"accelerator": "tpu-v5-lite-podslice", "topology": "2x4", "chips": 4})
    assert loc == ("resources", "learner", "tpu", "chips")
    assert "topology 2x4 has 8 chips" in message and "not 4" in message


def test_multi_host_or_foreign_topologies_are_refused_on_topology():
    loc, message = error_of(tpu={"accelerator": "tpu7x", "topology": "2x2"})
    assert loc == ("resources", "learner", "tpu", "topology") and "2x2x1" in message
    loc, message = error_of(tpu={"accelerator": "tpu-v5-lite-device", "topology": "4x4"})
    assert loc[-1] == "topology" and "multi-host slices are not supported" in message
    loc, _ = error_of(tpu={"accelerator": "tpu-v3-slice", "topology": "2x2"})
    assert loc == ("resources", "learner", "tpu", "accelerator")


def test_every_single_host_topology_fits_the_chips_field():
    for topologies in SINGLE_HOST_TOPOLOGIES.values():
        for topology in topologies:
            assert 1 <= topology_chips(topology) <= TpuSpec.model_fields["chips"].metadata[1].le


def test_a_pod_given_accelerators_must_use_them():
    assert requested_accelerator("auto", 1, False) == "gpu"
    assert requested_accelerator("auto", 0, True) == "tpu"
    assert requested_accelerator("auto", 0, False) == "auto"
    assert requested_accelerator("cpu", 2, False) == "cpu"  # an explicit choice stays
