"""The Kubernetes runtime's lifecycle through its REST operations and reconcile passes.

No Kubernetes API server can run here: `StandInCluster` (tests/kubernetes/standin.py) stands in
for it and for the cluster's workload controllers (`settle()`); learners are stand-ins that answer
GetStatus over real gRPC. Each test drives passes one at a time (`reconcile_all()`), so it can
check every intermediate state.
"""

from __future__ import annotations

import json

import pytest

from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import Phase
from seedrl.controller.runtimes.base import Conflict, Invalid, NotFound
from seedrl.controller.runtimes.kubernetes.resource import RESTORE_ANNOTATION
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.kubernetes.standin import StandInCluster

NAME = "cartpole"


def spec(**fields) -> ExperimentSpec:
    return ExperimentSpec(name=fields.pop("name", NAME), actors=2, envs_per_actor=4, **fields)


def replicas(cluster: StandInCluster, kind: str, name: str) -> int:
    return cluster.objects[(kind, name)]["spec"]["replicas"]


def learner_json(cluster: StandInCluster, name: str = NAME) -> dict:
    return json.loads(cluster.objects[("ConfigMap", f"{name}-config")]["data"]["learner.json"])


def start_running(runtime: KubernetesRuntime, cluster: StandInCluster, learners, **fields):
    """Create and start an experiment, let the cluster run its pods, and have its learner answer."""
    runtime.create(spec(**fields), start=True)
    runtime.reconcile_all()
    cluster.settle()
    learner = learners.serve(fields.get("name", NAME))
    runtime.reconcile_all()
    return learner


def test_start_creates_owned_objects_and_reports_the_learner(runtime, cluster, learners):
    created = runtime.create(spec(), start=True)
    assert created.status.phase == Phase.PENDING and created.spec.actors == 2
    runtime.reconcile_all()
    experiment = cluster.objects[("Experiment", NAME)]
    uid = experiment["metadata"]["uid"]
    owned = {key for key, obj in cluster.objects.items()
             if any(ref["uid"] == uid for ref in obj["metadata"].get("ownerReferences", []))}
    assert owned == {("ConfigMap", "cartpole-config"), ("Service", "cartpole-learner"),
                     ("StatefulSet", "cartpole-learner"), ("Deployment", "cartpole-actors")}
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 1
    assert replicas(cluster, "Deployment", "cartpole-actors") == 2
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING and status.started_at is not None

    cluster.settle()
    learner = learners.serve(NAME)
    learner.status.frames, learner.status.fps, learner.status.mean_return_100 = 12_345, 6_789.0, 21.5
    learner.status.last_checkpoint_step, learner.status.connected_streams = 40, 4
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.RUNNING
    assert (status.frames, status.fps, status.mean_return_100) == (12_345, 6_789.0, 21.5)
    assert (status.ready_actors, status.connected_streams, status.latest_checkpoint) == (2, 4, "ckpt-40")
    assert {c.type: c.status for c in status.conditions} == {"LearnerReady": "True", "ActorsReady": "True",
                                                             "Checkpointed": "True"}
    raw = cluster.objects[("Experiment", NAME)]["status"]
    assert raw["actor_selector"] == "seedrl.io/experiment=cartpole,app.kubernetes.io/component=actor"


def test_created_without_start_waits_then_starts(runtime, cluster):
    runtime.create(spec(), start=False)
    runtime.reconcile_all()
    assert not any(kind == "StatefulSet" for kind, _ in cluster.objects)
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING and status.message == "created; not started"
    with pytest.raises(Conflict, match="never run"):
        runtime.resume(NAME, None)
    runtime.start(NAME)
    runtime.reconcile_all()
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 1
    with pytest.raises(Conflict, match="already"):
        runtime.start(NAME)


def test_a_pass_that_changes_nothing_writes_nothing(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    runtime.reconcile_all()
    cluster.calls.clear()
    runtime.reconcile_all()
    writes = [call for call in cluster.calls if call[0] not in ("get", "list")]
    assert writes == []


def test_live_scale_through_the_api_and_the_scale_subresource(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    assert runtime.scale(NAME, 5).status.desired_actors == 5
    runtime.reconcile_all()
    assert replicas(cluster, "Deployment", "cartpole-actors") == 5
    cluster.merge_patch("Experiment", NAME, {"spec": {"actors": 1}})  # what `kubectl scale` writes
    runtime.reconcile_all()
    assert replicas(cluster, "Deployment", "cartpole-actors") == 1
    with pytest.raises(Invalid) as error:
        runtime.scale(NAME, 2000)  # 2000 x 4 envs > max_slots
    assert error.value.field == "actors"


def test_stop_takes_actors_down_before_the_learner(runtime, cluster, learners):
    learner = start_running(runtime, cluster, learners)
    assert runtime.stop(NAME).status.phase == Phase.STOPPING
    runtime.reconcile_all()
    assert replicas(cluster, "Deployment", "cartpole-actors") == 0
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 1  # actor pods still exist
    assert runtime.get(NAME).status.phase == Phase.STOPPING

    cluster.settle()  # the actor pods are gone
    learner.status.frames = 99_000  # counted since the last pass: read before the learner goes
    runtime.reconcile_all()
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 0
    assert runtime.get(NAME).status.frames == 99_000
    assert runtime.get(NAME).status.phase == Phase.STOPPING

    cluster.settle()
    learners.down(NAME)
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.STOPPED and status.fps == 0 and status.finished_at is not None
    assert ("PersistentVolumeClaim", "data-cartpole-learner-0") in cluster.objects
    with pytest.raises(Conflict, match="not running"):
        runtime.stop(NAME)


def stopped(runtime, cluster, learners) -> None:
    start_running(runtime, cluster, learners)
    runtime.stop(NAME)
    for _ in range(3):
        runtime.reconcile_all()
        cluster.settle()
    learners.down(NAME)
    runtime.reconcile_all()
    assert runtime.get(NAME).status.phase == Phase.STOPPED


def test_resume_from_a_named_checkpoint_restores_it_once(runtime, cluster, learners):
    stopped(runtime, cluster, learners)
    assert runtime.resume(NAME, "ckpt-120").status.phase == Phase.PENDING
    assert cluster.objects[("Experiment", NAME)]["metadata"]["annotations"][RESTORE_ANNOTATION] == "ckpt-120"
    runtime.reconcile_all()
    assert learner_json(cluster)["restore_from"] == "/data/experiments/cartpole/checkpoints/ckpt-120"
    assert RESTORE_ANNOTATION not in cluster.objects[("Experiment", NAME)]["metadata"].get("annotations", {})
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 1
    cluster.settle()
    learners.serve(NAME)
    runtime.reconcile_all()  # serving: it has restored
    runtime.reconcile_all()
    assert learner_json(cluster)["restore_from"] is None  # a restarted learner takes its newest checkpoint
    assert runtime.get(NAME).status.phase == Phase.RUNNING
    with pytest.raises(Conflict, match="stop it before resuming"):
        runtime.resume(NAME, None)


def test_resume_checks_the_checkpoint_it_can_check(runtime, cluster, learners):
    stopped(runtime, cluster, learners)
    with pytest.raises(Invalid) as error:
        runtime.resume(NAME, "other/ckpt-5")  # another experiment's PersistentVolume
    assert error.value.field == "checkpoint"


def test_first_start_restores_resume_from(runtime, cluster):
    runtime.create(spec(resume_from="ckpt-7"), start=True)
    runtime.reconcile_all()
    assert learner_json(cluster)["restore_from"] == "/data/experiments/cartpole/checkpoints/ckpt-7"


def test_reaching_total_frames_succeeds_and_scales_down(runtime, cluster, learners):
    learner = start_running(runtime, cluster, learners)
    learner.status.done, learner.status.frames = True, 3_000_000
    runtime.reconcile_all()
    resource = cluster.objects[("Experiment", NAME)]
    assert resource["spec"]["suspend"] is True
    assert runtime.get(NAME).status.phase == Phase.SUCCEEDED
    runtime.reconcile_all()
    cluster.settle()
    runtime.reconcile_all()
    cluster.settle()
    runtime.reconcile_all()
    assert replicas(cluster, "Deployment", "cartpole-actors") == 0
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 0
    status = runtime.get(NAME).status
    assert status.phase == Phase.SUCCEEDED and "3,000,000" in status.message
    runtime.resume(NAME, None)  # an ended run resumes like a stopped one
    runtime.reconcile_all()
    assert replicas(cluster, "StatefulSet", "cartpole-learner") == 1


def test_a_crash_looping_learner_fails_the_run(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    learners.down(NAME)
    cluster.set_container("cartpole-learner-0", restartCount=3, state={"waiting": {"reason": "CrashLoopBackOff"}},
                          lastState={"terminated": {"exitCode": 1, "reason": "Error"}})
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.FAILED and "exited 3 times" in status.message and "exit code 1" in status.message
    assert status.learner_restarts == 3
    assert cluster.objects[("Experiment", NAME)]["spec"]["suspend"] is True


def test_an_actor_refused_by_the_learner_fails_the_run(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    cluster.set_container("cartpole-actors-1", restartCount=1, lastState={"terminated": {"exitCode": 3}})
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.FAILED and "cartpole-actors-1 was refused" in status.message


def test_an_unschedulable_learner_is_reported(runtime, cluster):
    runtime.create(spec(resources={"learner": {"gpu": 1, "gpu_type": "nvidia-l4"}}), start=True)
    runtime.reconcile_all()
    cluster.settle()
    cluster.objects[("Pod", "cartpole-learner-0")]["status"] = {"phase": "Pending", "conditions": [
        {"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
         "message": "0/3 nodes are available: 3 Insufficient nvidia.com/gpu."}]}
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING and "Insufficient nvidia.com/gpu" in status.message


def test_delete_cascades_and_keeps_checkpoints_unless_asked(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    with pytest.raises(Conflict, match="force"):
        runtime.delete(NAME, force=False, delete_checkpoints=False)
    runtime.delete(NAME, force=True, delete_checkpoints=False)
    assert {kind for kind, _ in cluster.objects} == {"PersistentVolumeClaim"}
    with pytest.raises(NotFound):
        runtime.get(NAME)
    runtime.create(spec(), start=False)
    runtime.delete(NAME, force=False, delete_checkpoints=True)
    assert cluster.objects == {}


def test_quota_and_duplicate_names(runtime, cluster):
    runtime.create(spec(name="one"), start=True)
    runtime.create(spec(name="two"), start=True)
    with pytest.raises(Conflict, match="exists already"):
        runtime.create(spec(name="one"), start=False)
    with pytest.raises(Conflict, match="running already"):
        runtime.create(spec(name="three"), start=True)
    runtime.create(spec(name="three"), start=False)
    items, total = runtime.list(None, limit=2, offset=1)
    assert total == 3 and [item.name for item in items] == ["two", "three"]


def test_api_errors_are_counted_and_the_next_pass_converges(runtime, cluster, learners):
    runtime.create(spec(name="first"), start=True)
    runtime.create(spec(name="second"), start=True)
    cluster.fail_next(1, verb="list", kind="Pod")  # while reconciling the first experiment
    runtime.reconcile_all()
    errors = runtime._reconcile_errors
    assert errors._value.get() == 1
    assert ("StatefulSet", "second-learner") in cluster.objects  # the other one went on
    runtime.reconcile_all()
    assert ("StatefulSet", "first-learner") in cluster.objects
    cluster.fail_next(1, verb="list", kind="Experiment")
    runtime.reconcile_all()
    assert errors._value.get() == 2


def test_an_invalid_spec_edited_in_the_cluster_fails_with_the_field(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    cluster.merge_patch("Experiment", NAME, {"spec": {"envs_per_actor": 4000}})  # 2 x 4000 > max_slots
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.FAILED and "envs_per_actor" in status.message
    assert replicas(cluster, "Deployment", "cartpole-actors") == 0


def test_scrape_targets_label_every_running_pod(runtime, cluster, learners):
    start_running(runtime, cluster, learners)
    groups = runtime.scrape_targets()
    roles = sorted(group.labels["role"] for group in groups)
    assert roles == ["actor", "actor", "learner"]
    assert all(group.labels["experiment"] == NAME and group.targets[0].endswith(":9090") for group in groups)


def test_checkpoint_endpoints_explain_where_pvc_checkpoints_are(runtime, cluster):
    runtime.create(spec(), start=False)
    with pytest.raises(Conflict, match="kubectl cp cartpole-learner-0"):
        runtime.checkpoints(NAME)
