"""One `Act` stream to the learner: handshake, then step batches out and actions in."""

from __future__ import annotations

import grpc
import numpy as np

from seedrl.envs.batch import StepResult
from seedrl.common import tensors
from seedrl.common.spaces import EnvSpec, spec_to_proto
from seedrl.v1 import learner_pb2 as pb
from seedrl.v1 import learner_pb2_grpc as pb_grpc


class HandshakeRefused(RuntimeError):
    """The learner ended the stream instead of answering the Hello with a Welcome."""


class LearnerStream:
    """A stream carrying K environments. Use `open`, then alternate `send` and `receive`."""

    def __init__(self, call: grpc.aio.StreamStreamCall, run_id: int, num_envs: int):
        self._call = call
        self._run_id = run_id
        self.num_envs = num_envs

    @classmethod
    async def open(
        cls, stub: pb_grpc.LearnerStub, actor_id: str, run_id: int, num_envs: int, spec: EnvSpec,
        evaluation: bool = False, metadata: tuple[tuple[str, str], ...] = (),
    ) -> "LearnerStream":
        """Open a stream and say Hello; `metadata` carries the experiment's secret."""
        call = stub.Act(metadata=metadata)
        hello = pb.Hello(
            actor_id=actor_id, run_id=run_id, num_envs=num_envs, env_spec=spec_to_proto(spec), evaluation=evaluation
        )
        await call.write(pb.ActorMessage(hello=hello))
        reply = await call.read()
        if reply is grpc.aio.EOF or reply.WhichOneof("kind") != "welcome":
            raise HandshakeRefused(f"learner ended the stream without a Welcome: {await call.details()}")
        return cls(call, run_id, num_envs)

    async def send(self, result: StepResult) -> None:
        step = pb.StepBatch(run_id=self._run_id)
        tensors.encode(result.rewards, step.rewards)
        tensors.encode(result.terminated, step.terminated)
        tensors.encode(result.truncated, step.truncated)
        tensors.encode(result.observations, step.observations)
        if len(result.final_indices):
            tensors.encode(result.final_indices, step.final_indices)
            tensors.encode(result.final_observations, step.final_observations)
        await self._call.write(pb.ActorMessage(step=step))

    async def receive(self) -> np.ndarray:
        """The actions for the last batch sent, [K, *action_shape]."""
        reply = await self._call.read()
        if reply is grpc.aio.EOF:
            raise ConnectionError("learner closed the stream")
        return tensors.decode(reply.actions.actions)

    def cancel(self) -> None:
        self._call.cancel()
