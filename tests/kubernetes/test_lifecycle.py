"""The Kubernetes runtime's lifecycle through its REST operations and reconcile passes, against the real
API server and controllers: the StatefulSet and Deployment controllers make the pods and the claim, the
scheduler binds them to the GKE-shaped nodes, the garbage collector deletes what an Experiment owns.

What cannot run here is played: the kubelet (tests/kubernetes/kubelet.py reports pod states) and the
learner process (stand-ins answer GetStatus over real gRPC). Each test drives reconcile passes itself.
"""

from __future__ import annotations

import json

import pytest

from seedrl.controller.models import Phase
from seedrl.controller.runtimes.base import Conflict, Invalid, NotFound
from seedrl.controller.runtimes.kubernetes import manifests as mf
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe
from seedrl.controller.runtimes.kubernetes.resource import RESTORE_ANNOTATION
from tests.kubernetes.client import path, wait_for
from tests.kubernetes.flows import NAME, conditions, replicas, running_pods, settle, spec, start_running
from tests.kubernetes.kubelet import crash_loop, exited

OWNED = {("ConfigMap", "cartpole-config"), ("Service", "cartpole-learner"), ("StatefulSet", "cartpole-learner"),
         ("Deployment", "cartpole-actors"), ("Secret", "cartpole-secret"), ("NetworkPolicy", "cartpole-learner")}
OWNED_KINDS = ("ConfigMap", "Service", "StatefulSet", "Deployment", "Secret", "NetworkPolicy")


def owned_by(namespace, uid: str) -> set[tuple[str, str]]:
    return {(kind, obj["metadata"]["name"]) for kind in OWNED_KINDS
            for obj in namespace.list(kind) if any(ref["uid"] == uid for ref in obj["metadata"].get("ownerReferences", []))}


def learner_json(namespace, name: str = NAME) -> dict:
    return json.loads(namespace.get("ConfigMap", f"{name}-config")["data"]["learner.json"])


def test_start_runs_owned_pods_and_a_claim_and_reports_the_learner(runtime, namespace, learners):
    created = runtime.create(spec(), start=True)
    assert created.status.phase == Phase.PENDING and created.spec.actors == 2
    runtime.reconcile_all()
    experiment = namespace.get("Experiment", NAME)
    assert owned_by(namespace, experiment["metadata"]["uid"]) == OWNED
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 1
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING and status.started_at is not None
    learner_set = namespace.get("StatefulSet", "cartpole-learner")
    assert learner_set["metadata"]["annotations"]["seedrl.io/run-started-at"] == status.started_at.isoformat()

    # The real StatefulSet and ReplicaSet controllers make the pods and the claim; the scheduler binds them.
    settle(runtime, lambda: len(running_pods(namespace, "actor")) == 2 and running_pods(namespace, "learner"), "pods")
    claim = wait_for(lambda: namespace.get("PersistentVolumeClaim", "data-cartpole-learner-0"), "the claim")
    assert claim["spec"]["resources"]["requests"]["storage"] == "10Gi"
    learner = learners.serve(namespace, NAME)
    learner.status.frames, learner.status.fps, learner.status.mean_return_100 = 12_345, 6_789.0, 21.5
    learner.status.last_checkpoint_step, learner.status.connected_streams = 40, 4
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).phase == Phase.RUNNING and s, "Running")
    assert (status.frames, status.fps, status.mean_return_100) == (12_345, 6_789.0, 21.5)
    assert (status.ready_actors, status.connected_streams, status.latest_checkpoint) == (2, 4, "ckpt-40")
    assert conditions(status) == {"LearnerReady": ("True", "Serving"), "ActorsReady": ("True", "AllRunning"),
                                  "Checkpointed": ("True", "Saved"), "Synced": ("True", "Reconciled"),
                                  "Progressing": ("True", "Running")}
    assert status.message == "the learner is serving"
    raw = namespace.get("Experiment", NAME)["status"]
    assert raw["actor_selector"] == "seedrl.io/experiment=cartpole,app.kubernetes.io/component=actor"
    assert raw["observed_generation"] == experiment["metadata"]["generation"]


def test_the_experiments_secret_is_mounted_required_and_kept_across_stops_and_controllers(
        runtime, make_runtime, namespace, learners):
    learner = start_running(runtime, namespace, learners)
    stored = namespace.get("Secret", "cartpole-secret")
    assert stored["metadata"]["ownerReferences"][0]["uid"] == namespace.get("Experiment", NAME)["metadata"]["uid"]
    secret = mf.secret_value(stored)
    for component in ("learner", "actor"):
        for pod in running_pods(namespace, component):
            volume = next(v for v in pod["spec"]["volumes"] if v["name"] == mf.SECRET_VOLUME)
            assert volume["secret"]["secretName"] == "cartpole-secret"
            (container,) = pod["spec"]["containers"]
            assert {"name": mf.SECRET_VOLUME, "mountPath": mf.SECRET_DIR, "readOnly": True} in container["volumeMounts"]
    assert json.loads(namespace.get("ConfigMap", "cartpole-config")["data"]["learner.json"])["auth"]["secret_file"] == \
        mf.SECRET_FILE

    # The learner refuses a status call without the secret, or with another one; the controller's carries it.
    probe = GrpcLearnerProbe(learners.address, timeout_s=1.0)
    assert probe.status(NAME, None) is None and learner.refused("missing") == 1
    assert probe.status(NAME, mf.secret_value(None)) is None and learner.refused("wrong") == 1
    assert probe.status(NAME, secret) is not None
    probe.close()

    # A stop, a resume and another controller (a restart, or a new leader) keep it: it is read, never made anew.
    runtime.stop(NAME)
    learners.down(NAME)
    settle(runtime, lambda: runtime.get(NAME).status.phase == Phase.STOPPED, "Stopped")
    runtime.resume(NAME, None)
    successor = make_runtime()
    settle(successor, lambda: running_pods(namespace, "learner"), "the learner to start again")
    learners.serve(namespace, NAME)
    settle(successor, lambda: runtime.get(NAME).status.phase == Phase.RUNNING, "the resumed learner to answer")
    assert mf.secret_value(namespace.get("Secret", "cartpole-secret")) == secret

    # A Secret deleted while the experiment runs is made anew, and learner and actors restart together on it.
    namespace.kube.delete(path("Secret", namespace.name, "cartpole-secret"))
    successor.reconcile_all()
    renewed = mf.secret_value(namespace.get("Secret", "cartpole-secret"))
    assert renewed != secret
    for kind, name in (("StatefulSet", "cartpole-learner"), ("Deployment", "cartpole-actors")):
        template = namespace.get(kind, name)["spec"]["template"]["metadata"]
        assert template["annotations"][mf.SECRET_VERSION_ANNOTATION] == mf.secret_version(renewed)


def test_created_without_start_waits_then_starts(runtime, namespace):
    runtime.create(spec(), start=False)
    runtime.reconcile_all()
    assert namespace.get("StatefulSet", "cartpole-learner") is None
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING and status.message == "created; not started"
    with pytest.raises(Conflict, match="never run"):
        runtime.resume(NAME, None)
    runtime.start(NAME)
    runtime.reconcile_all()
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 1
    with pytest.raises(Conflict, match="already"):
        runtime.start(NAME)


def test_a_pass_that_changes_nothing_writes_nothing(runtime, namespace, learners):
    start_running(runtime, namespace, learners)
    runtime.reconcile_all()
    kinds = ("Experiment", "ConfigMap", "Service", "StatefulSet", "Deployment")

    def seen(field: str) -> dict[str, list[str]]:
        return {kind: [obj["metadata"].get(field) for obj in namespace.list(kind)] for kind in kinds}

    versions, generations = seen("resourceVersion"), seen("generation")
    runtime.reconcile_all()
    assert seen("resourceVersion") == versions
    runtime.reconciler.forget_applied()  # apply everything again (as every resync_s): no spec changes, no rollout
    runtime.reconcile_all()
    assert seen("generation") == generations


def test_live_scale_through_the_api(runtime, namespace, learners):
    start_running(runtime, namespace, learners)
    assert runtime.scale(NAME, 5).status.desired_actors == 5
    settle(runtime, lambda: len(running_pods(namespace, "actor")) == 5 and runtime.get(NAME).status.ready_actors == 5,
           "5 actors")
    assert replicas(namespace, "Deployment", "cartpole-actors") == 5
    with pytest.raises(Invalid) as error:
        runtime.scale(NAME, 2000)
    assert error.value.field == "actors"


def test_stop_takes_actors_down_before_the_learner(runtime, namespace, learners, kubelet):
    learner = start_running(runtime, namespace, learners)
    kubelet.hold(namespace.name, "cartpole-actors")  # their containers take a while to stop
    assert runtime.stop(NAME).status.phase == Phase.STOPPING
    runtime.reconcile_all()
    assert replicas(namespace, "Deployment", "cartpole-actors") == 0
    wait_for(lambda: all(pod["metadata"].get("deletionTimestamp") for pod in namespace.list("Pod", labelSelector=
             "app.kubernetes.io/component=actor")), "actor pods to terminate")
    runtime.reconcile_all()
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 1  # actor pods still exist
    assert runtime.get(NAME).status.phase == Phase.STOPPING

    learner.status.frames, learner.status.last_checkpoint_step = 99_000, 77  # read before the learner goes
    kubelet.release(namespace.name, "cartpole-actors")
    settle(runtime, lambda: replicas(namespace, "StatefulSet", "cartpole-learner") == 0, "the learner to scale down")
    assert runtime.get(NAME).status.frames == 99_000
    learners.down(NAME)
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).phase == Phase.STOPPED and s, "Stopped")
    assert status.fps == 0 and status.finished_at is not None
    assert status.message == "stopped on request; the newest checkpoint reported is ckpt-77"
    assert namespace.get("PersistentVolumeClaim", "data-cartpole-learner-0") is not None
    with pytest.raises(Conflict, match="not running"):
        runtime.stop(NAME)


def stopped(runtime, namespace, learners) -> None:
    start_running(runtime, namespace, learners)
    runtime.stop(NAME)
    learners.down(NAME)
    settle(runtime, lambda: runtime.get(NAME).status.phase == Phase.STOPPED, "Stopped")


def test_resume_from_a_named_checkpoint_restores_it_once(runtime, namespace, learners):
    stopped(runtime, namespace, learners)
    resumed = runtime.resume(NAME, "ckpt-120")
    assert resumed.status.phase == Phase.PENDING and resumed.status.message == "resuming from checkpoint ckpt-120"
    assert namespace.get("Experiment", NAME)["metadata"]["annotations"][RESTORE_ANNOTATION] == "ckpt-120"
    runtime.reconcile_all()
    assert learner_json(namespace)["restore_from"] == "/data/experiments/cartpole/checkpoints/ckpt-120"
    assert RESTORE_ANNOTATION not in namespace.get("Experiment", NAME)["metadata"].get("annotations", {})
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 1
    assert runtime.get(NAME).status.message == "starting from checkpoint ckpt-120"
    settle(runtime, lambda: running_pods(namespace, "learner"), "the learner pod")
    learners.serve(namespace, NAME)
    settle(runtime, lambda: learner_json(namespace)["restore_from"] is None, "the restore to be consumed")
    assert runtime.get(NAME).status.phase == Phase.RUNNING
    assert "seedrl.io/run-restore-from" not in namespace.get("StatefulSet", "cartpole-learner")["metadata"]["annotations"]
    with pytest.raises(Conflict, match="stop it before resuming"):
        runtime.resume(NAME, None)


def test_resume_checks_the_checkpoint_it_can_check(runtime, namespace, learners):
    stopped(runtime, namespace, learners)
    with pytest.raises(Invalid) as error:
        runtime.resume(NAME, "other/ckpt-5")  # another experiment's PersistentVolume
    assert error.value.field == "checkpoint"


def test_first_start_restores_resume_from(runtime, namespace):
    runtime.create(spec(resume_from="ckpt-7"), start=True)
    runtime.reconcile_all()
    assert learner_json(namespace)["restore_from"] == "/data/experiments/cartpole/checkpoints/ckpt-7"


def test_reaching_total_frames_succeeds_and_scales_down(runtime, namespace, learners):
    learner = start_running(runtime, namespace, learners)
    learner.status.done, learner.status.frames = True, 3_000_000
    runtime.reconcile_all()
    assert namespace.get("Experiment", NAME)["spec"]["suspend"] is True
    assert runtime.get(NAME).status.phase == Phase.SUCCEEDED
    settle(runtime, lambda: not namespace.list("Pod"), "every pod to go")
    assert replicas(namespace, "Deployment", "cartpole-actors") == 0
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 0
    status = runtime.get(NAME).status
    assert status.phase == Phase.SUCCEEDED and "3,000,000" in status.message
    runtime.resume(NAME, None)  # an ended run resumes like a stopped one
    runtime.reconcile_all()
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 1


def test_a_crash_looping_learner_fails_the_run(runtime, namespace, learners, kubelet):
    start_running(runtime, namespace, learners)
    learners.down(NAME)
    why = "training failed: the spec asks for 1 GPU and TensorFlow sees none"  # the learner's termination message
    kubelet.set(namespace.name, "cartpole-learner-0", crash_loop(3, last_message=why))
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).phase == Phase.FAILED and s, "Failed")
    assert "exited 3 times" in status.message and "exit code 1" in status.message and why in status.message
    assert status.learner_restarts == 3
    assert namespace.get("Experiment", NAME)["spec"]["suspend"] is True


def test_an_actor_refused_by_the_learner_fails_the_run(runtime, namespace, learners, kubelet):
    start_running(runtime, namespace, learners)
    kubelet.set(namespace.name, "cartpole-actors", exited(3))
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).phase == Phase.FAILED and s, "Failed")
    assert "was refused" in status.message and status.message.startswith("cartpole-actors-")


def test_delete_cascades_and_keeps_checkpoints_unless_asked(runtime, namespace, learners):
    start_running(runtime, namespace, learners)
    with pytest.raises(Conflict, match="force"):
        runtime.delete(NAME, force=False, delete_checkpoints=False)
    runtime.delete(NAME, force=True, delete_checkpoints=False)
    # The real garbage collector deletes what the Experiment owned, in the background.
    wait_for(lambda: not any(namespace.list(kind, labelSelector="seedrl.io/experiment") for kind in (
        *OWNED_KINDS, "Pod")), "the owned objects to go")
    assert [claim["metadata"]["name"] for claim in namespace.list("PersistentVolumeClaim")] == ["data-cartpole-learner-0"]
    with pytest.raises(NotFound):
        runtime.get(NAME)
    runtime.create(spec(), start=False)
    runtime.delete(NAME, force=False, delete_checkpoints=True)
    wait_for(lambda: not namespace.list("PersistentVolumeClaim"), "the claim to go")


def test_quota_duplicate_names_and_paging(runtime):
    runtime.create(spec("one"), start=True)
    runtime.create(spec("two"), start=True)
    with pytest.raises(Conflict, match="exists already"):
        runtime.create(spec("one"), start=False)
    with pytest.raises(Conflict, match="running already"):
        runtime.create(spec("three"), start=True)
    runtime.create(spec("three"), start=False)
    everything, total = runtime.list(None, limit=10, offset=0)
    # Oldest first; the API server's creation times have whole seconds, so names order the same second.
    assert [e.name for e in everything] == [e.name for e in sorted(everything, key=lambda e: (e.created_at, e.name))]
    page, total = runtime.list(None, limit=2, offset=1)
    assert total == 3 and [e.name for e in page] == [e.name for e in everything[1:3]]


def test_scrape_targets_label_every_running_pod(runtime, namespace, learners):
    start_running(runtime, namespace, learners)
    groups = runtime.scrape_targets()
    assert sorted(group.labels["role"] for group in groups) == ["actor", "actor", "learner"]
    ips = {pod["status"]["podIP"] for pod in namespace.list("Pod")}
    assert {group.targets[0] for group in groups} == {f"{ip}:9090" for ip in ips}
    assert all(group.labels["experiment"] == NAME for group in groups)


def test_checkpoint_endpoints_explain_where_pvc_checkpoints_are(runtime):
    runtime.create(spec(), start=False)
    with pytest.raises(Conflict, match="kubectl cp cartpole-learner-0"):
        runtime.checkpoints(NAME)
