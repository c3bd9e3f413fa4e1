"""The agents a spec can name, and the kinds of action space each one handles."""

from __future__ import annotations

from typing import Literal, get_args

AgentName = Literal["vtrace", "policy_gradient", "ppo", "vpg", "awr", "vmpo", "r2d2", "sac"]
AGENTS: tuple[str, ...] = get_args(AgentName)
# The on-policy agent's names: the generic one and its presets (`seedrl.spec.policy_gradient`).
ON_POLICY_AGENTS = ("policy_gradient", "ppo", "vpg", "awr", "vmpo")
# The action spaces each agent handles: "discrete" (Discrete) and/or "continuous" (Box).
ACTION_KINDS: dict[str, frozenset[str]] = {
    "vtrace": frozenset({"discrete"}),
    **{agent: frozenset({"discrete", "continuous"}) for agent in ON_POLICY_AGENTS},
    "r2d2": frozenset({"discrete"}),
    "sac": frozenset({"continuous"}),
}
