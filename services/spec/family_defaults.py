"""Defaults that depend on the environment family and the agent.

A spec's hyperparameters are resolved in layers, the later winning: the config models' own
defaults, the on-policy agent's preset (`seedrl.spec.policy_gradient.PRESETS`), then the values of
`FAMILY_DEFAULTS` for the spec's env family and agent, and over those the values of `ENV_DEFAULTS`
where the spec's env is a reference env with settings of its own. What the spec sets itself wins over
all of them. The resolved values are written out in the admitted spec (the learner's `learner.json`
shows them) and `seedrl defaults --env E --agent A` prints them with where each came from.

Where the table has no entry, the models' defaults apply: SEED RL's Atari settings for R2D2's loss,
replay and acting, SEED's for SAC, and for V-trace, the on-policy agent and the network the ones that
solve CartPole.
"""

from __future__ import annotations

import copy
from typing import Any

from seedrl.spec.agents import ON_POLICY_AGENTS
from seedrl.spec.env import UnknownEnvError, split_env_id
from seedrl.spec.policy_gradient import PRESETS

# The sections of a spec whose defaults depend on the env family and the agent: the agents'
# configs and the network. A Kubernetes Experiment's schema carries no defaults for them, so that
# the API server does not write the models' values where these would apply.
RESOLVED_SECTIONS = ("network", "vtrace", "r2d2", "sac", "policy_gradient")

# Small observation vectors (classic control). Each entry was measured to solve its reference
# within the frame budget of its learning test (tests/integration/test_train_replay.py).
_CLASSIC_R2D2: dict[str, Any] = {
    "network": {"hidden_sizes": [64, 64], "lstm_size": 32},
    "r2d2": {
        "unroll_length": 20, "burn_in": 4, "batch_size": 32, "n_steps": 5, "discount": 0.99,
        "learning_rate": 2e-3, "target_update_period": 200, "head_hidden_size": 64, "epsilon_base": 0.1,
        "replay": {"capacity": 5000, "min_fill": 200, "replay_ratio": 32},
    },
}
_CLASSIC_SAC: dict[str, Any] = {
    "network": {"hidden_sizes": [128, 128]},
    "sac": {
        "critic_hidden_size": 128, "learning_rate": 1e-3, "batch_size": 128,
        "replay": {"capacity": 100_000, "min_fill": 1000, "replay_ratio": 16},
    },
}
# MuJoCo locomotion with PPO (tests/integration/test_train_on_policy.py, HalfCheetah-v5).
_MUJOCO_PPO: dict[str, Any] = {
    "policy_gradient": {
        "batch_size": 32, "unroll_length": 64, "epochs": 10, "minibatches": 32, "learning_rate": 3e-4,
        "normalize_observations": True, "normalize_values": True,
    },
}
# MuJoCo locomotion with SAC: SEED's batch, replay and optimiser (the models' defaults) with a policy MLP as wide
# as the critics and a replay ratio of 32 (one gradient step per 8 frames), so that a 2-core machine trains
# HalfCheetah to 1,500 within 1M frames in minutes (`python -m benchmarks.run_all --only halfcheetah`).
_MUJOCO_SAC: dict[str, Any] = {
    "network": {"hidden_sizes": [256, 256]},
    "sac": {"replay": {"replay_ratio": 32}},
}

# SEED RL's published settings (its gcp/train_*.sh scripts; their learners' flag defaults where a script sets
# nothing) where they differ from the models' defaults and a field of ours holds them. Not carried over: SEED's
# V-trace applies gradients unclipped (ours clip at max_grad_norm), its Atari R2D2 replay of 100k unrolls (the
# learner refuses a replay larger than its machine's memory) and its enforced replay ratio of 0.75.
_ATARI_R2D2: dict[str, Any] = {  # gcp/train_atari.sh, atari/networks.py
    "network": {"torso": "nature", "fc_size": 512, "lstm_size": 512, "prev_action_reward": True},
    "r2d2": {"max_grad_norm": 80.0},
}
_FOOTBALL_VTRACE: dict[str, Any] = {  # gcp/train_football_checkpoints.sh, football/vtrace_main.py (Keras Adam's epsilon)
    "vtrace": {
        "learning_rate": 0.00012542101122072784, "lr_decay": False, "adam_epsilon": 1e-7, "discount": 0.997,
        "entropy_cost": 0.0007330944745454107, "batch_size": 32, "unroll_length": 32,
    },
}
_DMLAB_VTRACE: dict[str, Any] = {  # dmlab/vtrace_main.py and dmlab/networks.py (the scripts tune the rest per level)
    "network": {"torso": "impala", "lstm_size": 256, "prev_action_reward": True},
    "vtrace": {"learning_rate": 0.00048, "adam_epsilon": 3.125e-7, "batch_size": 32, "unroll_length": 100},
}

# Pendulum-v1 with PPO: a short horizon (discount 0.9: the swing-up pays off within tens of steps) and ten
# passes over each batch (tests/integration/test_train_on_policy.py). A gym-family PPO entry would change
# CartPole's PPO as well, which solves on the preset alone.
_PENDULUM_PPO: dict[str, Any] = {
    "policy_gradient": {
        "discount": 0.9, "epochs": 10, "unroll_length": 64, "normalize_observations": True, "normalize_values": True,
    },
}

# family -> agent -> {section: {field: value}}.
FAMILY_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "gym": {"r2d2": _CLASSIC_R2D2, "sac": _CLASSIC_SAC},
    "mujoco": {"ppo": _MUJOCO_PPO, "sac": _MUJOCO_SAC},
    "atari": {"r2d2": _ATARI_R2D2},
    "football": {"vtrace": _FOOTBALL_VTRACE},
    "dmlab": {"vtrace": _DMLAB_VTRACE},
}
# env id -> agent -> {section: {field: value}}, over the family's entry for that agent.
ENV_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "gym:Pendulum-v1": {"ppo": _PENDULUM_PPO},
}


def agent_section(agent: str) -> str:
    """The spec section holding `agent`'s hyperparameters."""
    return "policy_gradient" if agent in ON_POLICY_AGENTS else agent


def family_defaults(family: str, agent: str) -> dict[str, Any]:
    """{section: {field: value}} that `agent` on an env of `family` starts from ({} if none)."""
    return copy.deepcopy(FAMILY_DEFAULTS.get(family, {}).get(agent, {}))


def env_defaults(env: str, agent: str) -> dict[str, Any]:
    """{section: {field: value}} that `agent` on `env` (a valid env id) starts from: its family's entry, with
    the env's own entry (`ENV_DEFAULTS`) over it ({} if neither has one)."""
    own = copy.deepcopy(ENV_DEFAULTS.get(env, {}).get(agent, {}))
    return under(own, family_defaults(split_env_id(env)[0], agent))


def under(given: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """`given` with `defaults` filled in where it sets nothing: nested mappings merge, anything else in
    `given` wins whole (a list included)."""
    merged = dict(given)
    for key, value in defaults.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(value, dict) and isinstance(merged[key], dict):
            merged[key] = under(merged[key], value)
    return merged


def fill_in(data: dict[str, Any], default_env: str, default_agent: str) -> dict[str, Any]:
    """A spec's fields `data` (plain JSON values) with the defaults of its env family and agent filled in
    where it sets nothing. An env id that does not parse, or a non-string env or agent, leaves `data` as it
    is: validation reports those on their own fields."""
    env, agent = data.get("env", default_env), data.get("agent", default_agent)
    if not isinstance(env, str) or not isinstance(agent, str):
        return data
    try:
        return under(data, env_defaults(env, agent))
    except UnknownEnvError:
        return data


def origins(env: str, agent: str) -> dict[str, tuple[str, Any]]:
    """(where it comes from, value) of each field default that a preset, `FAMILY_DEFAULTS` or `ENV_DEFAULTS`
    sets for `agent` on `env`, by dotted path (`r2d2.replay.capacity`); fields not listed take their model's
    default. A preset's option that the preset's own choices do not read falls back to the model's default
    (`policy_gradient.resolve`)."""
    family = split_env_id(env)[0]
    found = {f"policy_gradient.{name}": (f"the {agent} preset", value) for name, value in PRESETS.get(agent, {}).items()}
    found.update((path, (f"{family} {agent} defaults", value)) for path, value in flatten(family_defaults(family, agent)))
    own = ENV_DEFAULTS.get(env, {}).get(agent, {})
    found.update((path, (f"{env} {agent} defaults", value)) for path, value in flatten(own))
    return found


def flatten(values: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """(dotted path, value) of every leaf of nested mappings, in order."""
    leaves: list[tuple[str, Any]] = []
    for key, value in values.items():
        if isinstance(value, dict):
            leaves.extend(flatten(value, f"{prefix}{key}."))
        else:
            leaves.append((f"{prefix}{key}", value))
    return leaves
