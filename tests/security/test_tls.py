"""A learner serving TLS and asking for client certificates (mTLS), with a real actor training over it.

Certificates are made for the test by the openssl command: a CA that signs the learner's
certificate and the clients' (the real actor's, an intruder's), and a second CA that is not
trusted. Only a client with a certificate from the trusted CA connects; only one that also
presents the experiment's secret is served; and only the same peer (host and certificate)
can replace a stream it opened.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import grpc
import pytest

from seedrl.common import learner_channel
from seedrl.common.credentials import ClientTLS, LearnerClient, ensure_secret_file, read_secret_file
from seedrl.common.ports import free_port
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc
from tests.integration.helpers import seedrl, wait_for
from tests.integration.test_learner_protocol import Stream, connect, expect_error, hello, step
from tests.security.certificates import Authority, Identity

pytestmark = pytest.mark.integration


class Cluster:
    """The learner, its real actor and the files they were given."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.ca = Authority(folder / "ca", "seedrl-ca")
        self.server = self.ca.issue("learner", dns=("localhost",), ips=("127.0.0.1",))
        self.actor = self.ca.issue("actor-0")
        self.intruder = self.ca.issue("intruder")
        self.untrusted = Authority(folder / "rogue", "rogue-ca").issue("actor-0")
        self.secret_file = ensure_secret_file(folder / "secret")
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []

    @property
    def address(self) -> str:
        return f"localhost:{self.port}"

    def client(self, identity: Identity | None, secret: str | None = "the experiment's") -> LearnerClient:
        """A TLS client presenting `identity` (None: no certificate) and the experiment's secret (None: none)."""
        tls = ClientTLS(self.ca.root.cert, identity.cert if identity else None, identity.key if identity else None)
        return LearnerClient(self.address, read_secret_file(self.secret_file) if secret else None, tls)

    def status(self) -> pb.LearnerStatus | None:
        client = self.client(self.actor)
        with learner_channel.channel(client) as channel:
            try:
                return pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=5, metadata=client.metadata)
            except grpc.RpcError:
                return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("tls"))
    auth = ["--auth.secret-file", str(cluster.secret_file)]
    cluster.processes.append(seedrl(
        "learner", "--port", str(cluster.port), "--host", "127.0.0.1", "--logdir", str(cluster.folder / "run"), *auth,
        "--auth.tls-cert-file", str(cluster.server.cert), "--auth.tls-key-file", str(cluster.server.key),
        "--auth.tls-client-ca-file", str(cluster.ca.root.cert),
        "--vtrace.unroll-length", "8", "--vtrace.batch-size", "4", "--total-frames", str(10**9),
        stdout=subprocess.DEVNULL, stderr=(cluster.folder / "learner.log").open("wb"),
    ))
    cluster.processes.append(seedrl(
        "actor", "--learner", cluster.address, "--actor-id", "actor-0", "--envs-per-actor", "4", *auth,
        "--auth.tls-ca-file", str(cluster.ca.root.cert),
        "--auth.tls-cert-file", str(cluster.actor.cert), "--auth.tls-key-file", str(cluster.actor.key),
        "--backoff-max-s", "0.5", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    ))
    try:
        wait_for(lambda: (s := cluster.status()) and s.frames > 0 and s.connected_streams == 2, 180,
                 what="the actor training over mTLS")
        yield cluster
    finally:
        for process in reversed(cluster.processes):
            process.terminate()
            process.wait(60)


def frames_rise(cluster: Cluster) -> None:
    before = cluster.status()
    wait_for(lambda: (s := cluster.status()) and s.frames > before.frames + 1_000, 60, what="frames rising")
    assert cluster.status().connected_streams == 2 and all(p.poll() is None for p in cluster.processes)


def test_the_actor_trains_over_mtls_and_the_learner_says_so(cluster):
    frames_rise(cluster)
    log = (cluster.folder / "learner.log").read_text()
    assert "(TLS;" in log and "unauthenticated" not in log


def call_status(channel: grpc.Channel, metadata=()) -> grpc.StatusCode:
    try:
        pb_grpc.LearnerStub(channel).GetStatus(pb.StatusRequest(), timeout=5, metadata=metadata)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


def test_plaintext_and_clients_without_a_trusted_certificate_cannot_connect(cluster):
    secret = cluster.client(None).metadata
    with grpc.insecure_channel(cluster.address) as channel:
        assert call_status(channel, secret) == grpc.StatusCode.UNAVAILABLE
    for identity in (None, cluster.untrusted):  # no client certificate; one the learner's CA did not sign
        with learner_channel.channel(cluster.client(identity)) as channel:
            assert call_status(channel, secret) == grpc.StatusCode.UNAVAILABLE
    frames_rise(cluster)


def test_a_trusted_certificate_without_the_secret_is_unauthenticated(cluster):
    with learner_channel.channel(cluster.client(cluster.intruder, secret=None)) as channel:
        assert call_status(channel) == grpc.StatusCode.UNAUTHENTICATED
        stream = Stream(channel)
        stream.send(hello(actor_id="actor-0/0"))
        expect_error(stream, grpc.StatusCode.UNAUTHENTICATED, "secret")
        stream.close()
    frames_rise(cluster)


def test_only_the_peer_holding_a_stream_can_replace_it(cluster):
    intruder = cluster.client(cluster.intruder)
    with learner_channel.channel(intruder) as channel:
        # The secret and a trusted certificate, but not the real actor's: its stream stays.
        stream = Stream(channel, intruder.metadata)
        stream.send(hello(actor_id="actor-0/0", num_envs=2))
        expect_error(stream, grpc.StatusCode.ALREADY_EXISTS, "another peer")
        stream.close()
        # A stream of the intruder's own is replaced by the intruder, from the same host, with the same certificate.
        old = connect(channel, intruder.metadata, actor_id="intruder/0", run_id=1)
        with learner_channel.channel(intruder) as again:
            new = connect(again, intruder.metadata, actor_id="intruder/0", run_id=2)
            expect_error(old, grpc.StatusCode.ABORTED, "replaced")
            new.send(step(run_id=2))
            assert new.receive().HasField("actions")
            new.close()
        old.close()
    frames_rise(cluster)
