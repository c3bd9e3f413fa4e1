"""Agents: each is a network builder, an inference function, a loss and its hyperparameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from seedrl.common.spaces import EnvSpec
    from seedrl.learner.agents.base import Agent
    from seedrl.learner.config import LearnerConfig

AGENTS = ("vtrace",)


def build_agent(config: "LearnerConfig", spec: "EnvSpec") -> "Agent":
    """Wire the agent named by `config.agent` for environments of `spec`."""
    if config.agent == "vtrace":
        from seedrl.learner.agents.vtrace.agent import VTraceAgent

        return VTraceAgent(spec, config.vtrace, total_frames=config.total_frames, network=config.network)
    raise ValueError(f"unknown agent {config.agent!r}; known: {AGENTS}")
