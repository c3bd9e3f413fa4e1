"""What goes wrong in a cluster, against the real API server, and what the status then says.

Each test provokes a real failure (RBAC refusing a call, an object in the way, a field the server's
schema lacks, an admission plugin, a spec edited with kubectl, pods the played kubelet leaves stuck)
and checks that the experiment's status says what happened and that the runtime does the next
sensible thing. The reconciler's clock is moved forward instead of waiting for deadlines.
"""

from __future__ import annotations

import pytest
import yaml

from seedrl.common import metrics as m
from seedrl.controller.models import Phase
from seedrl.controller.runtimes.base import Invalid
from seedrl.controller.runtimes.kubernetes.probe import GrpcLearnerProbe
from seedrl.controller.runtimes.kubernetes.runtime import KubernetesRuntime
from tests.kubernetes.client import path
from tests.kubernetes.flows import (
    NAME, condition_message, conditions, kubectl, options_for, replicas, running_pods, settle, spec, start_running,
)
from tests.kubernetes.kubelet import RUNNING, pull_error


def blocking_service(namespace) -> None:
    """A Service of the learner's name that is not headless: its clusterIP cannot become None."""
    namespace.kube.create(path("Service", namespace.name), {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "cartpole-learner"},
        "spec": {"selector": {"app": "other"}, "ports": [{"port": 80}]}})


def unadapted(runtime: KubernetesRuntime, namespace) -> KubernetesRuntime:
    """The same runtime without the v1.20 adaptations: the learner has gRPC probes, which v1.20 lacks."""
    probe = GrpcLearnerProbe(lambda name: "127.0.0.1:1", timeout_s=0.2)
    return KubernetesRuntime(namespace.api(), options_for(namespace), m.Metrics("", "controller"), probe)


CAUSES = {
    # what blocks the pass, its reason, the server's words, and how the test then clears it
    "forbidden": ("Forbidden", 'statefulsets.apps "cartpole-learner" is forbidden'),
    # without its secret no learner starts: nothing is applied until the Role grants secrets again
    "secret-forbidden": ("Forbidden", 'secrets "cartpole-secret" is forbidden'),
    "invalid": ("Invalid", 'Service "cartpole-learner" is invalid: [spec.clusterIPs[0]: Invalid value: []string{"None"}: '
                           "may not change once set"),
    "schema": ("InternalError", "field not declared in schema"),
}


@pytest.mark.parametrize("cause", CAUSES)
def test_api_errors_become_the_synced_condition_with_the_servers_message(cause, runtime, namespace, caplog):
    reason, words = CAUSES[cause]
    forbidden = {"forbidden": ("apps", "statefulsets"), "secret-forbidden": ("", "secrets")}.get(cause)
    rules = namespace.forbid(*forbidden) if forbidden else None
    if cause == "invalid":
        blocking_service(namespace)
    blocked = unadapted(runtime, namespace) if cause == "schema" else runtime
    runtime.create(spec(), start=True)
    blocked.reconcile_all()
    assert not [r for r in caplog.records if "retry" in r.getMessage()]  # a permanent refusal is not retried
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING
    assert conditions(status)["Synced"] == ("False", reason)
    assert words in condition_message(status, "Synced") and status.message.startswith("blocked: ")
    assert blocked._reconcile_errors._value.get() == 1
    if cause == "secret-forbidden":
        assert namespace.get("StatefulSet", "cartpole-learner") is None

    if forbidden:
        namespace.set_role_rules(rules)
    elif cause == "invalid":
        namespace.kube.delete(path("Service", namespace.name, "cartpole-learner"))
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).conditions and
                    conditions(s)["Synced"] == ("True", "Reconciled") and s, "the pass to go through")
    assert not status.message.startswith("blocked") and replicas(namespace, "StatefulSet", "cartpole-learner") == 1


def test_the_charts_role_lets_owner_references_block_deletion(runtime, namespace):
    """The API server runs OwnerReferencesPermissionEnforcement (as OpenShift and hardened clusters do):
    an owner reference that blocks its owner's deletion needs `update` on experiments/finalizers."""
    runtime.create(spec(), start=True)
    runtime.reconcile_all()
    owner = namespace.get("StatefulSet", "cartpole-learner")["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Experiment" and owner["blockOwnerDeletion"] is True
    assert conditions(runtime.get(NAME).status)["Synced"] == ("True", "Reconciled")

    namespace.set_role_rules([rule for rule in namespace.role()["rules"]
                              if "experiments/finalizers" not in rule["resources"]])
    runtime.create(spec("other"), start=True)
    runtime.reconcile_all()
    status = runtime.get("other").status
    assert conditions(status)["Synced"] == ("False", "Forbidden")
    assert "cannot set blockOwnerDeletion" in condition_message(status, "Synced")


def test_an_invalid_spec_applied_with_kubectl_fails_suspends_and_stops_counting(runtime, namespace, control_plane):
    runtime.create(spec("one"), start=True)
    invalid = {"apiVersion": "seedrl.io/v1alpha1", "kind": "Experiment", "metadata": {"name": "bad"},
               # valid for the CRD's schema, but 2 x 4000 envs exceed the learner's slots
               "spec": {"env": "gym:CartPole-v1", "actors": 2, "envs_per_actor": 4000, "suspend": False}}
    kubectl(control_plane, "-n", namespace.name, "apply", "-f", "-", stdin=yaml.safe_dump(invalid))
    runtime.reconcile_all()
    status = runtime.get("bad").status
    assert status.phase == Phase.FAILED and status.message.startswith("invalid spec: envs_per_actor")
    assert namespace.get("Experiment", "bad")["spec"]["suspend"] is True
    runtime.create(spec("two"), start=True)  # max_active is 2: the failed one no longer counts


def test_a_stored_spec_that_a_newer_rule_refuses_fails_with_spec_valid_and_the_others_run_on(
        runtime, namespace, control_plane):
    """An Experiment named with a leading digit passes this v1.20 server (it has no CEL rule to check the name)
    as it passed every server before names had to start with a letter: it is what an upgrade that tightens a
    rule leaves stored. It is listed Failed, with the SpecValid condition that the REST API's store writes."""
    runtime.create(spec("one"), start=True)
    stored = {"apiVersion": "seedrl.io/v1alpha1", "kind": "Experiment", "metadata": {"name": "9lives"},
              "spec": {"env": "gym:CartPole-v1", "suspend": False}}
    kubectl(control_plane, "-n", namespace.name, "apply", "-f", "-", stdin=yaml.safe_dump(stored))

    def failed_by_its_name(status) -> bool:
        message = condition_message(status, "SpecValid")
        return (status.phase == Phase.FAILED and conditions(status)["SpecValid"] == ("False", "InvalidSpec")
                and message.startswith("name: String should match pattern '^[a-z]")
                and status.message == f"invalid spec: {message}")

    assert failed_by_its_name(runtime.get("9lives").status)  # shown so at once, before any pass
    runtime.reconcile_all()
    listed = {experiment.name: experiment for experiment in runtime.list(None, 10, 0)[0]}
    assert failed_by_its_name(listed["9lives"].status)
    written = namespace.get("Experiment", "9lives")
    assert written["spec"]["suspend"] is True and written["status"]["phase"] == "Failed"
    assert any(c["type"] == "SpecValid" and c["status"] == "False" for c in written["status"]["conditions"])
    assert not namespace.list("StatefulSet", labelSelector="seedrl.io/experiment=9lives")  # nothing was started
    assert conditions(listed["one"].status)["Synced"] == ("True", "Reconciled")  # the others are reconciled
    assert replicas(namespace, "StatefulSet", "one-learner") == 1
    for act in (lambda: runtime.resume("9lives", None), lambda: runtime.scale("9lives", 3)):
        with pytest.raises(Invalid, match="name: String should match pattern"):  # it cannot run again
            act()
    runtime.delete("9lives", force=False, delete_checkpoints=False)  # it can be deleted
    assert [experiment.name for experiment in runtime.list(None, 10, 0)[0]] == ["one"]


def test_conditions_and_the_message_are_recomputed_every_pass(runtime, namespace, kubelet):
    kubelet.set(namespace.name, "cartpole-actors", pull_error("seedrl-actor:0.1.0"))
    runtime.create(spec(), start=True)
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).conditions and "ErrImagePull" in s.message and
                    conditions(s).get("ActorsReady") == ("False", "ErrImagePull") and s, "the pull error")
    assert "ErrImagePull" in condition_message(status, "ActorsReady")
    kubelet.set(namespace.name, "cartpole-actors", RUNNING)  # the image is there now
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).ready_actors == 2 and s, "the actors")
    assert conditions(status)["ActorsReady"] == ("True", "AllRunning")
    assert condition_message(status, "ActorsReady") == "2/2 actors running"
    assert status.message == "starting" and status.phase == Phase.PENDING  # the learner does not serve yet


def test_a_stop_goes_on_without_actor_pods_that_never_finish_terminating(runtime, namespace, learners, kubelet, clock):
    learner = start_running(runtime, namespace, learners)
    learner.status.last_checkpoint_step = 50
    kubelet.hold(namespace.name, "cartpole-actors")  # their node is gone: they stay Terminating
    runtime.stop(NAME)
    settle(runtime, lambda: all(p["metadata"].get("deletionTimestamp") for p in namespace.list("Pod", labelSelector=
           "app.kubernetes.io/component=actor")), "the actor pods to terminate")
    runtime.reconcile_all()
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 1
    assert conditions(runtime.get(NAME).status)["Progressing"] == ("True", "Stopping")

    clock.advance(30 + 60 + 1)  # past the actors' 30 s grace period and stop_timeout_s
    runtime.reconcile_all()
    assert replicas(namespace, "StatefulSet", "cartpole-learner") == 0
    learners.down(NAME)
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).phase == Phase.STOPPED and s, "Stopped")
    assert conditions(status)["Progressing"] == ("False", "StopDeadlineExceeded")
    stuck = sorted(p["metadata"]["name"] for p in namespace.list("Pod", labelSelector="app.kubernetes.io/component=actor"))
    assert len(stuck) == 2 and all(name in condition_message(status, "Progressing") for name in stuck)
    assert status.message.startswith("stopped on request; the newest checkpoint reported is ckpt-50; actor pods ")


def test_a_learner_pod_that_never_finishes_terminating_is_reported_with_how_to_force(runtime, namespace, learners,
                                                                                     kubelet, clock):
    start_running(runtime, namespace, learners)
    kubelet.hold(namespace.name, "cartpole-learner-0")
    runtime.stop(NAME)
    learners.down(NAME)
    settle(runtime, lambda: replicas(namespace, "StatefulSet", "cartpole-learner") == 0 and
           namespace.get("Pod", "cartpole-learner-0")["metadata"].get("deletionTimestamp"), "the learner to terminate")
    clock.advance(180 + 60 + 1)  # past the learner's grace period and stop_timeout_s
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.STOPPING and conditions(status)["Progressing"] == ("False", "StopDeadlineExceeded")
    assert "kubectl delete pod cartpole-learner-0 --grace-period=0 --force" in status.message
    namespace.kube.delete(path("Pod", namespace.name, "cartpole-learner-0"), gracePeriodSeconds=0)  # the force
    assert settle(runtime, lambda: runtime.get(NAME).status.phase == Phase.STOPPED, "Stopped")


def test_a_learner_that_never_served_is_not_said_to_have_checkpointed(runtime, namespace):
    runtime.create(spec(), start=True)
    settle(runtime, lambda: running_pods(namespace, "learner"), "the learner pod")
    runtime.stop(NAME)
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).phase == Phase.STOPPED and s, "Stopped")
    assert status.latest_checkpoint is None
    assert status.message == "stopped on request; the learner reported no checkpoint"
    resumed = runtime.resume(NAME, None)
    assert resumed.status.message == "resuming; no checkpoint was reported, so the learner starts afresh unless it wrote one"
    runtime.reconcile_all()
    assert runtime.get(NAME).status.message == "starting"


def test_started_at_is_recorded_even_when_the_first_status_write_fails(runtime, namespace, control_plane):
    resource = {"apiVersion": "seedrl.io/v1alpha1", "kind": "Experiment", "metadata": {"name": NAME},
                "spec": {"env": "gym:CartPole-v1", "actors": 1, "suspend": False}}
    kubectl(control_plane, "-n", namespace.name, "apply", "-f", "-", stdin=yaml.safe_dump(resource))
    rules = namespace.forbid("seedrl.io", "experiments/status")
    runtime.reconcile_all()  # the objects are applied; writing the status is refused
    learner = namespace.get("StatefulSet", "cartpole-learner")
    assert learner["spec"]["replicas"] == 1 and "status" not in namespace.get("Experiment", NAME)
    namespace.set_role_rules(rules)
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.started_at is not None and status.phase == Phase.PENDING
    assert status.started_at.isoformat() == learner["metadata"]["annotations"]["seedrl.io/run-started-at"]


def test_a_learner_that_never_becomes_ready_reaches_the_start_deadline(runtime, namespace, kubelet, clock):
    kubelet.set(namespace.name, "cartpole-learner-0", pull_error("seedrl-learner:0.1.0"))
    runtime.create(spec(), start=True)
    status = settle(runtime, lambda: (s := runtime.get(NAME).status).conditions and
                    conditions(s).get("LearnerReady") == ("False", "ErrImagePull") and s, "the pull error")
    assert conditions(status)["Progressing"] == ("True", "Starting")
    assert condition_message(status, "Progressing").startswith("waiting for the learner to serve since ")
    clock.advance(600 + 1)  # past start_timeout_s
    runtime.reconcile_all()
    status = runtime.get(NAME).status
    assert status.phase == Phase.PENDING and conditions(status)["Progressing"] == ("False", "StartDeadlineExceeded")
    message = condition_message(status, "Progressing")
    assert message.startswith("the learner has not served in the 10m0") and "ErrImagePull" in message
    assert status.message == message
