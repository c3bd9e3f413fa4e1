"""A real learner process, probed over real gRPC sockets with good and malformed actor streams.

Every malformed message must end only its own stream, with a clear status; the
learner and the other actors keep running.
"""

from __future__ import annotations

import queue
import urllib.request

import grpc
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from seedrl.common import tensors
from seedrl.common.spaces import BoxSpace, spec_to_proto
from seedrl.common.ports import free_port
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc
from tests.integration.helpers import seedrl, status, wait_for
from tests.unit.test_tensors_and_specs import cartpole_spec

pytestmark = pytest.mark.integration
MAX_MESSAGE_MB = 1
MAX_SLOTS = 64


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    port, metrics_port = free_port(), free_port()
    logdir = tmp_path_factory.mktemp("learner")
    process = seedrl(
        "learner", "--experiment", "protocol-test", "--port", str(port), "--metrics-port", str(metrics_port),
        "--logdir", str(logdir), "--max-message-mb", str(MAX_MESSAGE_MB), "--inference.max-slots", str(MAX_SLOTS),
        "--vtrace.unroll-length", "4", "--vtrace.batch-size", "2", "--total-frames", "100000000",
    )
    try:
        wait_for(lambda: status(port), timeout=90, what="learner ready")
        yield port, metrics_port
    finally:
        process.terminate()
        process.wait(60)


class Stream:
    """A bidirectional Act stream driven message by message from the test.

    `port` is a local port, or an open channel to use; `metadata` goes with the call (the secret).
    """

    def __init__(self, port: int | grpc.Channel, metadata: tuple[tuple[str, str], ...] = ()):
        self._owns_channel = not isinstance(port, grpc.Channel)
        self._channel = port if not self._owns_channel else grpc.insecure_channel(
            f"localhost:{port}", options=[("grpc.max_send_message_length", 64 * 2**20)]
        )
        self._outbox: queue.Queue = queue.Queue()
        self._replies = pb_grpc.LearnerStub(self._channel).Act(iter(self._outbox.get, None), metadata=metadata)

    def send(self, message: pb.ActorMessage) -> None:
        self._outbox.put(message)

    def receive(self) -> pb.LearnerMessage:
        return next(self._replies)

    def close(self) -> None:
        self._outbox.put(None)
        if self._owns_channel:
            self._channel.close()


def hello(actor_id="actor", run_id=1, num_envs=3, spec=None):
    spec = spec or cartpole_spec()
    return pb.ActorMessage(hello=pb.Hello(actor_id=actor_id, run_id=run_id, num_envs=num_envs, env_spec=spec_to_proto(spec)))


def step(run_id=1, num_envs=3, obs_shape=(4,)):
    message = pb.StepBatch(run_id=run_id)
    tensors.encode(np.zeros(num_envs, np.float32), message.rewards)
    tensors.encode(np.zeros(num_envs, bool), message.terminated)
    tensors.encode(np.zeros(num_envs, bool), message.truncated)
    tensors.encode(np.zeros((num_envs, *obs_shape), np.float32), message.observations)
    return pb.ActorMessage(step=message)


def connect(port, metadata=(), **kwargs) -> Stream:
    stream = Stream(port, metadata)
    stream.send(hello(**kwargs))
    assert stream.receive().welcome.num_slots == kwargs.get("num_envs", 3)
    return stream


def expect_error(stream: Stream, code: grpc.StatusCode, text: str) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        stream.receive()
    assert raised.value.code() == code, raised.value.details()
    assert text in raised.value.details()


def test_a_good_stream_gets_one_action_per_env_for_every_step(learner):
    port, _ = learner
    stream = connect(port, actor_id="good")
    for _ in range(5):
        stream.send(step())
        actions = tensors.decode(stream.receive().actions.actions)
        assert actions.shape == (3,) and set(actions.tolist()) <= {0, 1}
    stream.close()


@pytest.mark.parametrize(
    "message, text",
    [
        (step(obs_shape=(5,)), "observations must have shape (3, 4)"),
        (step(num_envs=2), "rewards must have shape (3,)"),
        (step(run_id=99), "run_id"),
        (hello(actor_id="again"), "expected a StepBatch"),
    ],
    ids=["obs-shape", "slot-count", "run-id", "second-hello"],
)
def test_a_malformed_step_ends_only_its_own_stream(learner, message, text):
    port, _ = learner
    bystander = connect(port, actor_id="bystander")
    offender = connect(port, actor_id="offender")
    offender.send(message)
    expect_error(offender, grpc.StatusCode.INVALID_ARGUMENT, text)
    for _ in range(3):  # the other actor is unaffected
        bystander.send(step())
        assert tensors.decode(bystander.receive().actions.actions).shape == (3,)
    bystander.close()
    offender.close()


def test_a_step_before_the_hello_is_an_unknown_actor(learner):
    stream = Stream(learner[0])
    stream.send(step())
    expect_error(stream, grpc.StatusCode.INVALID_ARGUMENT, "first message of a stream must be a Hello")
    stream.close()


def test_an_actor_with_another_env_spec_is_refused_with_the_difference(learner):
    stream = Stream(learner[0])
    wrong = cartpole_spec(observation_space=BoxSpace((5,), "float32", np.zeros(5, np.float32), np.ones(5, np.float32)))
    stream.send(hello(spec=wrong))
    expect_error(stream, grpc.StatusCode.FAILED_PRECONDITION, "shape (5,) != (4,)")
    stream.close()


def test_an_oversized_message_is_refused_and_the_learner_keeps_serving(learner):
    port, _ = learner
    stream = connect(port, actor_id="big")
    big = step()
    big.step.observations.data = b"\0" * (MAX_MESSAGE_MB * 2**20 + 1024)
    stream.send(big)
    expect_error(stream, grpc.StatusCode.RESOURCE_EXHAUSTED, "")
    stream.close()
    after = connect(port, actor_id="after-big")
    after.send(step())
    assert tensors.decode(after.receive().actions.actions).shape == (3,)
    after.close()


def test_asking_for_more_slots_than_are_free_is_refused(learner):
    stream = Stream(learner[0])
    stream.send(hello(actor_id="greedy", num_envs=MAX_SLOTS + 1))
    expect_error(stream, grpc.StatusCode.RESOURCE_EXHAUSTED, "env slots requested")
    stream.close()


def test_a_restarted_actor_evicts_its_stale_stream_and_slots_are_returned(learner):
    port, _ = learner
    old = connect(port, actor_id="phoenix", run_id=1, num_envs=5)
    old.send(step(run_id=1, num_envs=5))
    old.receive()
    leased_before = status(port).leased_slots
    new = connect(port, actor_id="phoenix", run_id=2, num_envs=5)
    with pytest.raises(grpc.RpcError):
        old.receive()  # its stream was ended by the learner
    new.send(step(run_id=2, num_envs=5))
    assert tensors.decode(new.receive().actions.actions).shape == (5,)
    wait_for(lambda: status(port).leased_slots == leased_before, timeout=5, what="old slots released")
    new.close()
    old.close()
    wait_for(lambda: status(port).leased_slots == leased_before - 5, timeout=5, what="slots released on close")


def test_only_the_host_that_opened_a_stream_can_replace_it(learner):
    """An unauthenticated learner (run by hand) still keeps an actor's stream from a Hello sent from elsewhere:
    here the stream came over IPv4 and the intruder comes over IPv6 (the learner binds both)."""
    port, _ = learner
    with grpc.insecure_channel(f"127.0.0.1:{port}") as ipv4, grpc.insecure_channel(f"[::1]:{port}") as ipv6:
        owned = connect(ipv4, actor_id="owned", num_envs=2)
        intruder = Stream(ipv6)
        intruder.send(hello(actor_id="owned", num_envs=2, run_id=2))
        expect_error(intruder, grpc.StatusCode.ALREADY_EXISTS, "another peer")
        intruder.close()
        for _ in range(3):
            owned.send(step(num_envs=2))
            assert tensors.decode(owned.receive().actions.actions).shape == (2,)
        owned.close()


def test_metrics_are_served_with_experiment_and_role_labels(learner):
    port, metrics_port = learner
    stream = connect(port, actor_id="metered")
    for _ in range(3):
        stream.send(step())
        stream.receive()
    stream.close()
    text = urllib.request.urlopen(f"http://localhost:{metrics_port}/metrics", timeout=5).read().decode()
    samples = {
        sample.name: sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("experiment") == "protocol-test" and sample.labels.get("role") == "learner"
    }
    for name in ("seedrl_inference_batch_size_count", "seedrl_inference_latency_seconds_count", "seedrl_connected_actors",
                 "seedrl_env_slots_leased", "seedrl_unroll_queue_depth", "seedrl_rejected_messages_total"):
        assert name in samples, name
    assert samples["seedrl_inference_batch_size_count"].value >= 3  # one batch per step at least
    assert "seedrl_env_frames_total" in samples


def test_readiness_is_the_standard_grpc_health_service(learner):
    """What a Kubernetes `grpc` readiness probe asks: SERVING for the server and the Learner service."""
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"localhost:{learner[0]}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", "seedrl.v1.Learner"):
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
            assert reply.status == health_pb2.HealthCheckResponse.SERVING, service
        with pytest.raises(grpc.RpcError) as raised:
            stub.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
