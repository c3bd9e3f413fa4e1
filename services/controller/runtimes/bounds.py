"""What the local runtime lets one experiment, and all of them together, start on this machine.

Each bound is an operator setting of the controller (`ControllerConfig`): processes per experiment
and in all, the memory an experiment's learner is estimated to need, and the shortest checkpoint
interval. An experiment over a bound of its own is refused when it comes in (422, naming the field
and the setting); one that would take the running experiments together over a bound is refused
when it starts, resumes or scales (409).

The memory estimate needs no env package: it takes a nominal observation size per env family
(`OBSERVATION_BYTES`; image families exactly, vector ones generously) and counts what the learner
allocates for it: the network's weights with their optimizer and target copies, the replay
(R2D2, SAC), and the per-slot unroll buffers `inference.max_slots` x unroll steps.
"""

from __future__ import annotations

from dataclasses import dataclass

from seedrl.controller.config import ControllerConfig
from seedrl.controller.runtimes.base import Conflict, Invalid
from seedrl.spec.agents import ON_POLICY_AGENTS
from seedrl.spec.env import split_env_id
from seedrl.spec.experiment import ExperimentSpec

# Bytes of one observation, before frame stacking: Atari 84x84 grey, DMLab 72x96 RGB, Football's
# 72x96x4 mini-map; vector observations (gym, mujoco, custom) counted as 1,024 float32 values.
OBSERVATION_BYTES = {"atari": 84 * 84, "dmlab": 72 * 96 * 3, "football": 72 * 96 * 4}
VECTOR_OBSERVATION_BYTES = 4 * 1024
DEFAULT_FRAME_STACK = {"atari": 4, "football": 4}
FLOAT_BYTES = 4
# Copies of each weight a learner holds: the weights and Adam's two moments; replay agents add targets.
WEIGHT_COPIES = {"r2d2": 4, "sac": 4}
DEFAULT_WEIGHT_COPIES = 3
# Convolutional torsos: their convolutions' weights and the width of what they flatten for an 84x84 input.
CONV_TORSOS = {"impala": (230_000, 11 * 11 * 32), "nature": (80_000, 7 * 7 * 64)}


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a learner is estimated to allocate for an experiment."""

    network: float
    replay: float
    slots: float

    @property
    def total(self) -> float:
        return self.network + self.replay + self.slots


def processes_of(spec: ExperimentSpec) -> int:
    """Processes the local runtime starts for `spec`: the learner, the actors, the evaluator if any."""
    return 1 + spec.actors + (1 if spec.eval_envs else 0)


def observation_bytes(spec: ExperimentSpec) -> int:
    family = split_env_id(spec.env)[0]
    stack = spec.env_options.frame_stack or DEFAULT_FRAME_STACK.get(family, 1)
    return OBSERVATION_BYTES.get(family, VECTOR_OBSERVATION_BYTES) * stack


def _unroll_steps(spec: ExperimentSpec) -> int:
    """Steps each unroll holds: T + 1, plus the burn-in for R2D2."""
    if spec.agent == "r2d2":
        return spec.r2d2.burn_in + spec.r2d2.unroll_length + 1
    if spec.agent in ON_POLICY_AGENTS:
        return spec.policy_gradient.unroll_length + 1
    return getattr(spec, spec.agent).unroll_length + 1


def _weights(spec: ExperimentSpec) -> int:
    """Weights of the agent's network (torso, LSTM, heads), estimated."""
    network = spec.network
    if network.torso in CONV_TORSOS:
        convolutions, flat = CONV_TORSOS[network.torso]
        torso, features = convolutions + flat * network.fc_size, network.fc_size
    else:  # an MLP (or `auto` on vectors): a dense layer per width
        widths = [observation_bytes(spec) // FLOAT_BYTES, *network.hidden_sizes]
        torso, features = sum(a * b for a, b in zip(widths, widths[1:])), widths[-1]
    core = 4 * (features + network.lstm_size + 1) * network.lstm_size
    features = network.lstm_size or features
    head = {"r2d2": 2 * features * spec.r2d2.head_hidden_size, "sac": 2 * features * spec.sac.critic_hidden_size}
    return torso + core + head.get(spec.agent, 2 * features)


def estimate_memory(spec: ExperimentSpec) -> MemoryEstimate:
    """What the learner of `spec` is estimated to allocate (see the module docstring)."""
    step = observation_bytes(spec)
    unroll = _unroll_steps(spec) * step
    replay = {"r2d2": spec.r2d2.replay.capacity, "sac": spec.sac.replay.capacity}.get(spec.agent, 0) * unroll
    copies = WEIGHT_COPIES.get(spec.agent, DEFAULT_WEIGHT_COPIES)
    return MemoryEstimate(network=_weights(spec) * FLOAT_BYTES * copies, replay=replay,
                          slots=spec.inference.max_slots * unroll)


def _gb(size: float) -> str:
    return f"{size / 1e9:,.1f} GB"


class LocalBounds:
    """The operator's bounds on what the local runtime starts (ControllerConfig's settings)."""

    def __init__(self, config: ControllerConfig):
        self.experiment_processes = config.max_experiment_processes
        self.processes = config.max_processes
        self.memory_bytes = config.memory_bound_bytes()
        self.min_checkpoint_interval_s = config.min_checkpoint_interval_s

    def check_experiment(self, spec: ExperimentSpec) -> None:
        """Raise Invalid (422) naming the field when `spec` alone is over a bound."""
        processes = processes_of(spec)
        if processes > self.experiment_processes:
            raise Invalid("actors", f"{spec.actors} actors make {processes} processes, more than one experiment may run "
                                    f"here ({self.experiment_processes}; the operator raises it with "
                                    "--max-experiment-processes)")
        if spec.checkpoint.every_s < self.min_checkpoint_interval_s:
            raise Invalid("checkpoint.every_s", f"{spec.checkpoint.every_s:g}s is shorter than this controller allows "
                                                f"({self.min_checkpoint_interval_s:g}s; the operator lowers it with "
                                                "--min-checkpoint-interval-s)")
        estimate = estimate_memory(spec)
        if estimate.total > self.memory_bytes:
            parts = {"network": estimate.network, "replay": estimate.replay, "inference.max_slots": estimate.slots}
            field = max(parts, key=lambda name: parts[name])
            shares = ", ".join(f"{name} {_gb(size)}" for name, size in parts.items())
            raise Invalid(field, f"the learner would need about {_gb(estimate.total)} ({shares}), more than "
                                 f"{_gb(self.memory_bytes)} (the operator raises it with --max-memory-gb)")

    def check_total(self, running: list[ExperimentSpec], spec: ExperimentSpec) -> None:
        """Raise Conflict (409) when starting `spec` beside the `running` experiments goes over a bound."""
        processes = sum(map(processes_of, running)) + processes_of(spec)
        if processes > self.processes:
            raise Conflict(f"running {spec.name} would make {processes} processes in all, more than this controller "
                           f"runs ({self.processes}; the operator raises it with --max-processes); stop another "
                           "experiment first")
        memory = sum(estimate_memory(other).total for other in running) + estimate_memory(spec).total
        if memory > self.memory_bytes:
            raise Conflict(f"running {spec.name} would take the running experiments' learners to about {_gb(memory)}, "
                           f"more than {_gb(self.memory_bytes)} (the operator raises it with --max-memory-gb); stop "
                           "another experiment first")
