"""Fuzzed actor streams against a real learner process over real gRPC.

Random bytes, truncated messages, step batches with wrong-typed, wrongly shaped or
oversized tensors, and hostile handshakes: each may end its own stream with a clear
status, and nothing else. `UNKNOWN` would mean an exception escaped the handler; a
well-behaved actor streaming alongside must be served throughout.
"""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedrl.common import tensors
from seedrl.common.ports import free_port
from seedrl.v1 import learner_pb2 as pb
from tests.integration.helpers import seedrl, status, wait_for
from tests.integration.test_learner_protocol import Stream, connect, hello, step

pytestmark = pytest.mark.integration

IDLE_TIMEOUT_S = 1.5
# How a learner may end a stream it does not like; UNKNOWN (an escaped exception) is not one.
REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.RESOURCE_EXHAUSTED,
}
FIELDS = ("rewards", "terminated", "truncated", "observations", "final_indices", "final_observations")
DTYPES = ("float32", "float64", "bool", "int32", "uint8", "int64", "object", "float128", "<U3", "V8", "", "complex64")
FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    port = free_port()
    process = seedrl(
        "learner", "--experiment", "fuzz-test", "--port", str(port), "--logdir", str(tmp_path_factory.mktemp("fuzz")),
        "--max-message-mb", "1", "--inference.max-slots", "64", "--stream-idle-timeout-s", str(IDLE_TIMEOUT_S),
        "--hello-timeout-s", str(IDLE_TIMEOUT_S),
        "--vtrace.unroll-length", "4", "--vtrace.batch-size", "2", "--total-frames", "100000000",
    )
    try:
        wait_for(lambda: status(port), timeout=90, what="learner ready")
        yield port, process
    finally:
        process.terminate()
        process.wait(60)


@pytest.fixture(scope="module")
def raw_act(learner):
    """Act over a channel that sends bytes as they are (no serialisation by the client)."""
    channel = grpc.insecure_channel(f"localhost:{learner[0]}", options=[("grpc.max_send_message_length", 8 * 2**20)])
    yield channel.stream_stream(
        "/seedrl.v1.Learner/Act", request_serializer=lambda b: b, response_deserializer=pb.LearnerMessage.FromString,
    )
    channel.close()


def outcome(raw_act, messages: list[bytes]) -> grpc.StatusCode:
    """Send `messages` on one stream, read every reply; the status the stream ended with."""
    try:
        for _ in raw_act(iter(messages), timeout=30):
            pass
    except grpc.RpcError as error:
        assert error.code() in REFUSALS, f"{error.code()}: {error.details()}"
        return error.code()
    return grpc.StatusCode.OK


tensor_messages = st.builds(
    lambda dtype, shape, data: pb.Tensor(dtype=dtype, shape=shape, data=data),
    st.sampled_from(DTYPES) | st.text(max_size=12),
    st.lists(st.integers(-3, 2**40) | st.integers(0, 5), max_size=5),
    st.binary(max_size=512),
)


@st.composite
def mutated_steps(draw) -> bytes:
    """A well-formed step batch of 3 CartPole envs with some fields dropped or replaced by random tensors."""
    message = step()
    for name in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)):
        if draw(st.booleans()):
            message.step.ClearField(name)
        else:
            getattr(message.step, name).CopyFrom(draw(tensor_messages))
    if draw(st.booleans()):
        message.step.run_id = draw(st.integers(0, 2**64 - 1))
    return message.SerializeToString()


@st.composite
def hostile_hellos(draw) -> bytes:
    message = hello(actor_id=draw(st.text(max_size=200)), num_envs=draw(st.integers(-2**31, 2**31 - 1)))
    message.hello.evaluation = draw(st.booleans())
    if draw(st.booleans()):
        box = message.hello.env_spec.observation_space.box
        box.low.CopyFrom(draw(tensor_messages))
        box.shape[:] = draw(st.lists(st.integers(0, 2**40), max_size=4))
    if draw(st.booleans()):
        message.hello.env_spec.action_space.discrete.n = draw(st.integers(-5, 2**31 - 1))
    return message.SerializeToString()


def test_random_bytes_are_refused_as_undecodable(raw_act):
    @FUZZ
    @given(st.binary(min_size=1, max_size=2048), st.booleans())
    def check(noise, after_hello):
        messages = [hello(actor_id="noisy").SerializeToString()] if after_hello else []
        # Bytes that happen to parse are refused by the checks that follow decoding.
        assert outcome(raw_act, [*messages, noise]) in REFUSALS

    check()


def test_truncated_messages_never_escape_the_handler(raw_act):
    whole = [hello(actor_id="cut").SerializeToString(), step().SerializeToString()]

    @FUZZ
    @given(st.integers(0, 1), st.data())
    def check(which, data):
        cut = data.draw(st.integers(0, len(whole[which]) - 1))
        outcome(raw_act, [*whole[:which], whole[which][:cut]])

    check()


def test_mutated_steps_and_hostile_hellos_end_only_their_own_stream(learner, raw_act):
    port, _ = learner
    bystander = connect(port, actor_id="bystander")

    good_hello, good_step = hello(actor_id="fuzzed").SerializeToString(), step().SerializeToString()
    streams = mutated_steps().map(lambda s: [good_hello, s]) | hostile_hellos().map(lambda h: [h, good_step])

    @FUZZ
    @given(streams)
    def check(messages):
        outcome(raw_act, messages)
        bystander.send(step())  # the well-behaved actor is served after every fuzzed stream
        assert tensors.decode(bystander.receive().actions.actions).shape == (3,)

    check()
    bystander.close()
    wait_for(lambda: status(port).leased_slots == 0, timeout=10, what="every fuzzed stream's slots returned")


def test_an_oversized_observation_shape_is_refused_without_allocating_it(raw_act):
    message = step()
    message.step.observations.CopyFrom(pb.Tensor(dtype="float32", shape=[2**31, 2**31], data=b""))
    assert outcome(raw_act, [hello(actor_id="huge").SerializeToString(), message.SerializeToString()]) == (
        grpc.StatusCode.INVALID_ARGUMENT
    )


def test_a_silent_stream_is_ended_and_its_slots_reclaimed(learner):
    """An actor that stops sending (hung, not disconnected) loses its stream after the idle timeout."""
    port, process = learner
    silent = connect(port, actor_id="silent", num_envs=7)
    silent.send(step(num_envs=7))
    silent.receive()
    assert status(port).leased_slots >= 7
    with pytest.raises(grpc.RpcError) as raised:
        silent.receive()  # sends nothing more: the learner gives up on it
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert "slots reclaimed" in raised.value.details()
    wait_for(lambda: status(port).leased_slots == 0, timeout=5, what="slots reclaimed")
    silent.close()
    assert process.poll() is None
    again = connect(port, actor_id="silent", num_envs=7)  # the same actor can come back
    again.send(step(num_envs=7))
    assert tensors.decode(again.receive().actions.actions).shape == (7,)
    again.close()


def test_a_stream_that_never_says_hello_is_ended(learner):
    """A connection that opens a stream and sends nothing holds it only until the Hello timeout."""
    port, process = learner
    mute = Stream(port)
    with pytest.raises(grpc.RpcError) as raised:
        mute.receive()
    assert raised.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED and "no Hello" in raised.value.details()
    mute.close()
    assert process.poll() is None and status(port).connected_streams == 0


def test_the_learner_survives_the_fuzzing(learner):
    port, process = learner
    assert process.poll() is None
    stream = connect(port, actor_id="after-fuzz")
    for _ in range(3):
        stream.send(step())
        assert np.isin(tensors.decode(stream.receive().actions.actions), [0, 1]).all()
    stream.close()
