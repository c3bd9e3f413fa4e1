"""A hostile gRPC client against the learner of a real `seedrl train` run while its real actor trains.

The client tries what anyone who reaches the learner's port could: calls without the
experiment's secret or with a wrong one, a Hello that would evict the real actor, leasing
every slot, absurd values of every dtype, a thousand idle connections. Each hostile stream
must get its documented status (docs/reliability.md, "Security"), and the real actor's frames
must keep rising: nothing the client does may stop, crash or restart anything.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest

from seedrl.common import tensors
from seedrl.common.credentials import call_metadata, read_secret_file
from seedrl.common.ports import free_port
from seedrl.learner.requests import REWARD_LIMIT
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc
from tests.integration.helpers import metric, pids_with, read_summary, seedrl, status, wait_for
from tests.integration.test_learner_protocol import Stream, connect, expect_error, hello, step

pytestmark = pytest.mark.integration

ENVS_PER_ACTOR, MAX_SLOTS = 8, 64
REAL_STREAMS = 2  # the real actor's two streams, actor-0/0 and actor-0/1
IDLE_CONNECTIONS = 1000
SUMMARY_EVERY_S = 5.0  # the learner's default TensorBoard interval
FLOAT_DTYPES = ("float16", "float32", "float64")
DTYPES = ("bool", "uint8", "int8", "int16", "uint16", "int32", "int64", *FLOAT_DTYPES)


@dataclass
class Run:
    """A `seedrl train` run: its learner's ports and the run folder holding the experiment's secret."""

    port: int
    metrics_port: int
    logdir: Path
    process: subprocess.Popen

    @property
    def secret(self) -> str:
        return read_secret_file(self.logdir / "secret")

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return call_metadata(self.secret)

    def status(self) -> pb.LearnerStatus:
        return status(self.port, self.logdir / "secret")

    def counter(self, name: str, **labels: str) -> float:
        return metric(self.metrics_port, f"{name}_total", **labels)

    def assert_training_goes_on(self, since: pb.LearnerStatus) -> None:
        """The real actor's frames and the learner's steps keep rising; nothing was restarted."""
        wait_for(lambda: (s := self.status()) and s.frames > since.frames + 2_000 and s.learner_steps > since.learner_steps,
                 60, what="the real actor's frames rising")
        now = self.status()
        assert now.connected_streams >= REAL_STREAMS and self.process.poll() is None
        assert "restarting" not in (self.logdir / "logs" / "learner.log").read_text()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("secured")
    port, metrics_port = free_port(), free_port()
    process = seedrl(
        "train", "--env", "gym:CartPole-v1", "--actors", "1", "--envs-per-actor", str(ENVS_PER_ACTOR),
        "--inference.max-slots", str(MAX_SLOTS), "--vtrace.batch-size", "4", "--vtrace.unroll-length", "8",
        "--total-frames", str(10**9), "--max-seconds", "600", "--port", str(port), "--metrics-port", str(metrics_port),
        "--logdir", str(logdir), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    run = Run(port, metrics_port, logdir, process)
    try:
        wait_for(lambda: (logdir / "secret").exists(), 30, what="the run's secret")
        wait_for(lambda: (s := run.status()) and s.learner_steps > 0 and s.connected_streams == REAL_STREAMS, 180,
                 what="training")
        yield run
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(120)
    summary = read_summary(logdir)
    assert summary["stop_reason"] == "interrupted" and summary["learner_restarts"] == summary["actor_restarts"] == 0


def test_the_secret_is_a_private_file_and_never_leaves_it(run):
    assert (run.logdir / "secret").stat().st_mode & 0o777 == 0o600
    secret = run.secret
    for path in run.logdir.rglob("*"):  # configs, logs, summaries, status: only paths to the file
        if path.is_file() and path.name != "secret" and path.suffix not in (".index", ".data-00000-of-00001"):
            assert secret not in path.read_text(errors="replace"), path
    pids = pids_with(str(run.logdir))
    assert len(pids) >= 3  # seedrl train, its learner and its actor
    for pid in pids:
        for part in ("cmdline", "environ"):
            assert secret.encode() not in Path(f"/proc/{pid}/{part}").read_bytes()


@pytest.mark.parametrize("metadata, reason", [
    ((), "missing"),
    ((("authorization", "Basic c2VlZHJsOnNlZWRybA=="),), "missing"),
    ((("authorization", "Bearer "),), "wrong"),
    ((("authorization", "Bearer not-the-secret-of-this-experiment"),), "wrong"),
], ids=["none", "not-bearer", "empty", "wrong"])
def test_calls_without_the_secret_are_refused_before_any_message_is_read(run, metadata, reason):
    before, refused = run.status(), run.counter("seedrl_unauthenticated_calls", reason=reason)
    with grpc.insecure_channel(f"127.0.0.1:{run.port}") as channel:
        with pytest.raises(grpc.RpcError) as raised:
            pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=5, metadata=metadata)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
        # A Hello taking the real actor's id (an eviction), one asking for every slot, and a step.
        for message in (hello(actor_id="actor-0/0", num_envs=4), hello(actor_id="greedy", num_envs=MAX_SLOTS), step()):
            stream = Stream(channel, metadata)
            stream.send(message)
            expect_error(stream, grpc.StatusCode.UNAUTHENTICATED, "secret")
            stream.close()
    assert run.counter("seedrl_unauthenticated_calls", reason=reason) == refused + 4
    after = run.status()
    assert after.connected_streams == REAL_STREAMS and after.leased_slots == ENVS_PER_ACTOR
    run.assert_training_goes_on(before)


def test_a_stream_holding_the_secret_cannot_take_more_than_its_share(run):
    """No stream leases more envs than one actor of the experiment steps; many streams stop at the free slots,
    and the real actor's leases are never touched."""
    before = run.status()
    with grpc.insecure_channel(f"127.0.0.1:{run.port}") as channel:
        stream = Stream(channel, run.metadata)
        stream.send(hello(actor_id="wide", num_envs=ENVS_PER_ACTOR + 1))
        expect_error(stream, grpc.StatusCode.FAILED_PRECONDITION, f"allows {ENVS_PER_ACTOR}")
        stream.close()
        hoard = []
        free = MAX_SLOTS - ENVS_PER_ACTOR
        for i in range(free // ENVS_PER_ACTOR):
            hoard.append(connect(channel, run.metadata, actor_id=f"hoarder-{i}", num_envs=ENVS_PER_ACTOR))
        greedy = Stream(channel, run.metadata)
        greedy.send(hello(actor_id="one-too-many", num_envs=1))
        expect_error(greedy, grpc.StatusCode.RESOURCE_EXHAUSTED, "env slots requested")
        greedy.close()
        # Hoarding streams that send nothing hold no batch back: the real actor is served throughout.
        run.assert_training_goes_on(before)
        for stream in hoard:
            stream.close()
    wait_for(lambda: run.status().leased_slots == ENVS_PER_ACTOR, 10, what="the hoarded slots returned")
    assert run.counter("seedrl_rejected_messages", reason="stream_share") >= 1
    assert run.counter("seedrl_rejected_messages", reason="slots_exhausted") >= 1


def typed(values, dtype: str) -> np.ndarray:
    return np.asarray(values).astype(dtype)


def insider_step(k: int = 4, **arrays: np.ndarray) -> pb.ActorMessage:
    """A well-formed StepBatch of `k` envs (no episode ends) with `arrays` replacing its fields."""
    fields = {"rewards": np.zeros(k, np.float32), "terminated": np.zeros(k, bool), "truncated": np.zeros(k, bool),
              "observations": np.zeros((k, 4), np.float32), **arrays}
    message = pb.StepBatch(run_id=1)
    for name, value in fields.items():
        tensors.encode(value, getattr(message, name))
    return pb.ActorMessage(step=message)


def bad_bool(k: int = 4) -> np.ndarray:
    """[k] bool whose bytes are 7: not a bool a well-behaved encoder writes."""
    return np.full(k, 7, np.uint8).view(bool)


REFUSED = [
    *[(dict(rewards=typed(np.ones(4), dtype)), "rewards must be float32") for dtype in DTYPES if dtype != "float32"],
    *[(dict(observations=typed(np.ones((4, 4)), dtype)), "observations must be float32") for dtype in DTYPES if dtype != "float32"],
    *[(dict(terminated=typed(np.ones(4), dtype)), "terminated must be bool") for dtype in DTYPES if dtype != "bool"],
    (dict(rewards=np.array([1, np.nan, 0, 0], np.float32)), "rewards must be finite"),
    (dict(rewards=np.array([np.inf, 0, 0, 0], np.float32)), "rewards must be finite"),
    (dict(observations=np.full((4, 4), np.nan, np.float32)), "observations must be finite"),
    (dict(observations=np.full((4, 4), -np.inf, np.float32)), "observations must be finite"),
    (dict(terminated=bad_bool()), "terminated must hold bytes 0 and 1"),
    (dict(truncated=bad_bool()), "truncated must hold bytes 0 and 1"),
]


@pytest.mark.parametrize("arrays, text", REFUSED, ids=[f"{list(a)[0]}-{t}" for a, t in REFUSED])
def test_malformed_values_of_every_dtype_end_only_their_stream(run, arrays, text):
    with grpc.insecure_channel(f"127.0.0.1:{run.port}") as channel:
        stream = connect(channel, run.metadata, actor_id="malformed", num_envs=4)
        stream.send(insider_step(**arrays))
        expect_error(stream, grpc.StatusCode.INVALID_ARGUMENT, text)
        stream.close()


def test_absurd_finite_values_are_clipped_and_training_goes_on(run):
    """Rewards of 3e38 (once: the trainer died on these) and observations 1e30 outside their bounds, for
    longer than the learner's summary interval: they are clipped and counted, and training carries on."""
    before = run.status()
    clipped_rewards = run.counter("seedrl_clipped_values", field="rewards")
    clipped_observations = run.counter("seedrl_clipped_values", field="observations")
    huge = np.finfo(np.float32).max
    with grpc.insecure_channel(f"127.0.0.1:{run.port}") as channel:
        stream = connect(channel, run.metadata, actor_id="insider", num_envs=4)
        started, steps = time.monotonic(), 0
        while time.monotonic() - started < SUMMARY_EVERY_S + 1:  # past a TensorBoard summary; episodes of 5 steps
            i, steps = steps, steps + 1
            sign = 1 if i % 2 else -1
            stream.send(insider_step(
                rewards=np.full(4, sign * huge, np.float32), terminated=np.full(4, i % 5 == 4),
                observations=np.full((4, 4), sign * 1e30, np.float32),
            ))
            actions = tensors.decode(stream.receive().actions.actions)
            assert set(actions.tolist()) <= {0, 1}
        stream.close()
    assert run.counter("seedrl_clipped_values", field="rewards") >= clipped_rewards + steps * 4
    assert run.counter("seedrl_clipped_values", field="observations") >= clipped_observations + steps * 16
    run.assert_training_goes_on(before)
    status = run.status()
    assert np.isfinite(status.mean_return_100) and abs(status.mean_return_100) <= 5 * REWARD_LIMIT


async def _unauthenticated_streams(address: str, count: int) -> list[grpc.StatusCode]:
    """`count` Act calls on connections of their own, none presenting a secret and none sending anything
    (an asyncio client that writes to a refused stream can be told INTERNAL: grpc/grpc#36066): the status each
    ends with."""
    # A subchannel pool of its own per channel: one TCP connection each, not one shared by all.
    channels = [grpc.aio.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)]) for _ in range(count)]

    async def call(channel: grpc.aio.Channel) -> grpc.StatusCode:
        return await pb_grpc.LearnerStub(channel).Act().code()

    try:
        return await asyncio.gather(*(call(channel) for channel in channels))
    finally:
        await asyncio.gather(*(channel.close() for channel in channels))


def test_a_thousand_idle_connections_and_unauthenticated_streams_do_not_stall_training(run):
    before = run.status()
    memory_before = metric(run.metrics_port, "seedrl_process_resident_memory_bytes", role="learner")
    idle = [socket.create_connection(("127.0.0.1", run.port)) for _ in range(IDLE_CONNECTIONS)]
    try:
        codes = asyncio.run(_unauthenticated_streams(f"127.0.0.1:{run.port}", IDLE_CONNECTIONS))
        assert set(codes) == {grpc.StatusCode.UNAUTHENTICATED}
        run.assert_training_goes_on(before)
        memory = metric(run.metrics_port, "seedrl_process_resident_memory_bytes", role="learner")
        print(f"\nlearner resident memory: {memory_before / 2**20:.0f} MiB, {memory / 2**20:.0f} MiB with "
              f"{IDLE_CONNECTIONS} idle connections open and as many unauthenticated streams refused")
        assert memory - memory_before < 256 * 2**20
    finally:
        for connection in idle:
            connection.close()
