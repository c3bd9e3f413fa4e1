"""Agents: each is a network builder, an inference function, a loss and its hyperparameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

from seedrl.spec.agents import AGENTS, ON_POLICY_AGENTS

if TYPE_CHECKING:
    from seedrl.common.spaces import EnvSpec
    from seedrl.learner.agents.base import Agent
    from seedrl.spec.learner import LearnerConfig


def build_agent(config: "LearnerConfig", spec: "EnvSpec") -> "Agent":
    """Wire the agent named by `config.agent` for environments of `spec`.

    Its variables are created under the current `tf.distribute` strategy (one per training
    device) and its train step runs on every replica (`seedrl.learner.devices`).
    """
    jit_compile = config.devices.jit_compile
    if config.agent == "vtrace":
        from seedrl.learner.agents.vtrace.agent import VTraceAgent

        return VTraceAgent(
            spec, config.vtrace, total_frames=config.total_frames, network=config.network, jit_compile=jit_compile
        )
    if config.agent in ON_POLICY_AGENTS:
        from seedrl.learner.agents.policy_gradient.agent import PolicyGradientAgent

        return PolicyGradientAgent(
            spec, config.policy_gradient, config.network, name=config.agent, total_frames=config.total_frames,
            jit_compile=jit_compile,
        )
    if config.agent == "r2d2":
        from seedrl.learner.agents.r2d2.agent import R2D2Agent

        return R2D2Agent(
            spec, config.r2d2, config.network, max_slots=config.inference.max_slots, jit_compile=jit_compile
        )
    if config.agent == "sac":
        from seedrl.learner.agents.sac.agent import SACAgent

        return SACAgent(spec, config.sac, config.network, jit_compile=jit_compile)
    raise ValueError(f"unknown agent {config.agent!r}; known: {AGENTS}")
