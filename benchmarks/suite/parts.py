"""The parts of `benchmarks.run_all`: what each measures (one run of it) and what its figures mean.

Each part reuses one benchmark module's functions; a run returns its figures as a dict keyed as the
part's `figures` are. The part's `meaning` is one line of the doc, formatted with its settings.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.envs_families import CASES, case_label, case_rate
from benchmarks.load import run_load
from benchmarks.on_policy import AGENTS, BASELINE, TRAIN_ARGS
from benchmarks.peers.compare import FULL as FULL_PEERS
from benchmarks.peers.compare import PONG_ENVS, QUICK as QUICK_PEERS, SEEDRL_CARTPOLE, Limits, measure_round, shown_setting
from benchmarks.peers.venv import PeerUnavailable, peer_python
from benchmarks.pong_learning import UNROLL_LENGTH, pong_args
from benchmarks.pong_system import DEFAULTS as PONG_SYSTEM, dedicated_cores, measure_layout
from benchmarks.replay import replay_rates, train_steps_per_second
from benchmarks.scaling import ACTORS as SCALING_ACTORS
from benchmarks.scaling import measure_setting
from benchmarks.suite.figures import Figure, Health, Value
from benchmarks.suite.machine import gpu_names
from benchmarks.system import measure_train
from benchmarks.throughput import measure_config
from benchmarks.time_to_solve import README_ARGS, TrainFailed, train_once
from seedrl.envs.errors import MissingEnvPackage
from tests.integration.test_train_on_policy import PPO_PENDULUM, PPO_PENDULUM_FRAME_BUDGET
from tests.integration.test_train_replay import R2D2_CARTPOLE, R2D2_FRAME_BUDGET, SAC_FRAME_BUDGET, SAC_PENDULUM


@dataclass(frozen=True)
class Windows:
    """Measuring windows and time limits of the parts, in seconds."""

    overhead_s: float = 10.0  # each of (a), (b), (c)
    solve_limit_s: float = 180.0  # one agent's training run, start-up included
    locomotion_limit_s: float = 1200.0  # one agent's HalfCheetah run, start-up included
    latency_s: float = 5.0  # each slot count
    envs_s: float = 10.0  # each env family
    replay_s: float = 3.0  # each replay rate and each agent's train steps
    gpu_s: float = 30.0  # the Pong learner, after its warm-up
    gpu_warmup_s: float = 20.0
    scaling_limit_s: float = 300.0  # one CartPole run at one env count, start-up included
    pong_s: float = 15.0  # each of the Pong overhead's rates
    peers: Limits = FULL_PEERS


FULL = Windows()
QUICK = Windows(overhead_s=3, solve_limit_s=40, locomotion_limit_s=40, latency_s=2, envs_s=2, replay_s=0.5, gpu_s=10, gpu_warmup_s=10,
                scaling_limit_s=25, pong_s=3, peers=QUICK_PEERS)


@dataclass
class Measured:
    """One run of a part: its figures, the cases it skipped with the reason, and the errors of cases that went
    wrong while the others were measured (their figures are missing unless the error says they are kept)."""

    values: dict[str, Value]
    skipped: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


class NotMeasured(Exception):
    """The part cannot be measured on this machine; the message says why."""


@dataclass(frozen=True)
class Part:
    """A named part: its doc title, its meaning (a format string over `settings`), its figures, how to measure
    one run (windows, run index -> Measured), and the cases whose runs are checked for collapse."""

    name: str
    title: str
    meaning: str
    figures: tuple[Figure, ...]
    settings: Callable[[Windows], dict[str, Any]]
    measure: Callable[[Windows, int], Measured]
    health: tuple[Health, ...] = ()  # cases whose runs are checked for collapse (benchmarks.suite.figures)

    def figure(self, key: str) -> Figure:
        """The figure named `key`; KeyError if the part has none."""
        for figure in self.figures:
            if figure.key == key:
                return figure
        raise KeyError(f"part {self.name} has no figure {key!r}")


# --- 1. Framework overhead on CartPole: the system against the same actors stepping alone.
OVERHEAD_ACTORS, OVERHEAD_ENVS, OVERHEAD_STREAMS = 2, 64, 2


def measure_overhead(windows: Windows, run: int) -> Measured:
    return Measured(measure_config(OVERHEAD_ACTORS, OVERHEAD_ENVS, OVERHEAD_STREAMS, windows.overhead_s))


OVERHEAD = Part(
    name="overhead",
    title="Framework overhead",
    meaning="CartPole-v1, {actors} actors x {envs} envs in {streams} streams each, {window_s:g} s windows: (a) the "
            "actor processes stepping random actions alone, (b) the whole system serving an untrained policy "
            "(`--inference-only`), (c) the whole system training V-trace. b/a is the share of the raw env rate the "
            "framework keeps (`make bench`).",
    figures=(
        Figure("envs_alone", "(a) actors alone", "env steps/s"),
        Figure("untrained_fps", "(b) system, untrained policy", "frames/s"),
        Figure("training_fps", "(c) system, training V-trace", "frames/s"),
        Figure("untrained_ratio", "overhead ratio b/a", "ratio", 3),
        Figure("training_ratio", "training ratio c/a", "ratio", 3),
    ),
    settings=lambda w: {"actors": OVERHEAD_ACTORS, "envs": OVERHEAD_ENVS, "streams": OVERHEAD_STREAMS,
                        "window_s": w.overhead_s},
    measure=measure_overhead,
)


# --- 1b. Framework overhead at Atari's step cost: Pong, the IMPALA network, the whole machine and a learner core.
PONG_LEARNER_CORES = 1


def measure_pong(windows: Windows, run: int) -> Measured:
    """benchmarks.pong_system's two layouts: every process on every core, and the learner on a core of its own."""
    try:
        alone, system = measure_layout(windows.pong_s)
        values: dict[str, Value] = {"machine_alone": alone, "machine_system": system, "machine_ratio": system / alone}
        split = dedicated_cores(PONG_LEARNER_CORES)
        if split is not None:
            alone, system = measure_layout(windows.pong_s, *split)
            values.update(actors_alone=alone, actors_system=system, actors_ratio=system / alone)
    except MissingEnvPackage as reason:
        raise NotMeasured(str(reason)) from None
    return Measured(values)


PONG = Part(
    name="pong",
    title="Framework overhead on Pong",
    meaning="Atari Pong ({backend}, SEED's preprocessing), {actors} actors x {envs} envs in {streams} streams each, "
            "{window_s:g} s windows, rates in agent steps/s (4 emulator frames each): (a) the actor processes "
            "stepping random actions alone, (b) the whole system serving an untrained policy with the {torso} "
            "network (`--inference-only`). On the whole machine (every process on every core) b/a is the share of "
            "the machine's env rate the system keeps. With the learner on {learner_cores} core of its own and the "
            "actors on the others (in (a) as in (b)), b/a is the actors' share of their own cores' rate: what an "
            "actor pod keeps when the learner has a node of its own, not the machine's overhead "
            "(`python -m benchmarks.pong_system`).",
    figures=(
        Figure("machine_alone", "(a) envs alone, whole machine", "steps/s"),
        Figure("machine_system", "(b) system, whole machine", "steps/s"),
        Figure("machine_ratio", "b/a, whole machine", "ratio", 3),
        Figure("actors_alone", "(a) envs alone, actor cores", "steps/s"),
        Figure("actors_system", "(b) system, learner on its own core", "steps/s"),
        Figure("actors_ratio", "b/a, actors' share with the learner on its own core", "ratio", 3),
    ),
    settings=lambda w: {**PONG_SYSTEM, "window_s": w.pong_s, "learner_cores": PONG_LEARNER_CORES},
    measure=measure_pong,
)


# --- 2. CartPole time to a mean return of 475 and FPS, every discrete-action agent (docs/agents.md): V-trace with
# the README's command, the on-policy presets as benchmarks.on_policy runs them, R2D2 as its learning test runs it
# (the gym family's defaults, no agent flags).
CARTPOLE_ARGS: dict[str, list[str]] = {
    BASELINE: README_ARGS,
    **{agent: [*TRAIN_ARGS, "--agent", agent] for agent in AGENTS if agent != BASELINE},
    "r2d2": [*R2D2_CARTPOLE, "--total-frames", str(R2D2_FRAME_BUDGET), "--stop-at-return", "475"],
}
BEST_RETURN = "best mean return"


def measure_training(args_by_agent: dict[str, list[str]], time_key: str, limit_s: float, run: int) -> Measured:
    """Each agent's `seedrl train ARGS` from an empty run folder with seed `run`, until its --stop-at-return, its
    frame budget or `limit_s`: the time to the target (under `time_key`) and the frames it took, FPS, best mean
    return and longest stall."""
    measured = Measured({})
    for agent, args in args_by_agent.items():
        try:
            result = train_once(args, seed=run, max_seconds=limit_s)
        except TrainFailed as error:
            measured.errors[agent] = str(error)
            continue
        measured.values[f"{agent}.{time_key}"] = result.summary["solved_at_seconds"]
        measured.values[f"{agent}.frames_to_target"] = result.summary["solved_at_frames"]
        measured.values[f"{agent}.fps"] = result.summary["fps"]
        measured.values[f"{agent}.best_return"] = result.best_mean_return
        measured.values[f"{agent}.stall_s"] = result.longest_stall
        restarts = {kind: result.summary[f"{kind}_restarts"] for kind in ("learner", "actor")}
        if any(restarts.values()):
            measured.errors[agent] = (f"processes exited and were restarted ({restarts['learner']} learner, "
                                      f"{restarts['actor']} actor); the figures are kept")
    return measured


def training_figures(agents: Sequence[str], time_key: str, target: str) -> tuple[Figure, ...]:
    """Per agent: the time to `target` (or, where no run reached it, the best mean return) and the FPS."""
    return tuple(
        figure
        for agent in agents
        for figure in (
            Figure(f"{agent}.{time_key}", f"time to {target}, {agent}", "s", 1,
                   fallback=Figure(f"{agent}.best_return", BEST_RETURN, "", 1)),
            Figure(f"{agent}.fps", f"FPS (run average), {agent}", "frames/s"),
        )
    )


def training_health(agents: Sequence[str]) -> tuple[Health, ...]:
    return tuple(Health(agent, f"{agent}.fps", f"{agent}.best_return", f"{agent}.stall_s", covers=(f"{agent}.",))
                 for agent in agents)


CARTPOLE = Part(
    name="cartpole",
    title="CartPole: time to 475 and FPS per agent",
    meaning="`seedrl train` on CartPole-v1 from an empty run folder, seed = run index: wall time from launch "
            "(TensorFlow import and process start included) until the mean return of the last 100 episodes "
            "reaches 475, and the run's average FPS. V-trace runs the README's command (2 x 16 envs, 3M frames), "
            "the on-policy presets `benchmarks.on_policy`'s (2 x 16 envs, 1M frames), R2D2 its learning test's "
            "(its defaults for gym envs, 2 x 8 envs, 500k frames; docs/agents.md). No run sets an agent flag. A run stops at {limit_s:g} s; an agent most "
            "of whose runs did not reach 475 shows how many did and the best mean return of those that did not.",
    figures=training_figures(list(CARTPOLE_ARGS), "time_to_475", "475"),
    settings=lambda w: {"limit_s": w.solve_limit_s, "agents": list(CARTPOLE_ARGS)},
    measure=lambda windows, run: measure_training(CARTPOLE_ARGS, "time_to_475", windows.solve_limit_s, run),
    health=training_health(list(CARTPOLE_ARGS)),
)

# --- 2b. Pendulum-v1 to a mean return of -250 with the continuous-action agents' defaults, as their learning tests
# run them (the gym family's SAC defaults, Pendulum-v1's PPO defaults; no agent flags).
PENDULUM_TARGET = -250
PENDULUM_ARGS: dict[str, list[str]] = {
    "ppo": [*PPO_PENDULUM, "--total-frames", str(PPO_PENDULUM_FRAME_BUDGET), "--stop-at-return", str(PENDULUM_TARGET)],
    "sac": [*SAC_PENDULUM, "--total-frames", str(SAC_FRAME_BUDGET), "--stop-at-return", str(PENDULUM_TARGET)],
}

PENDULUM = Part(
    name="pendulum",
    title="Pendulum: time to -250 and FPS per agent",
    meaning="`seedrl train` on Pendulum-v1 from an empty run folder, seed = run index, with the defaults only (no "
            "agent flag; docs/agents.md): wall time from launch until the mean return of the last 100 episodes "
            "reaches {target}, and the run's average FPS. PPO runs 2 x 16 envs for at most {ppo_frames:,} frames, "
            "SAC 2 x 8 envs for at most {sac_frames:,} (its replay ratio fixes its updates per frame). A run stops at "
            "{limit_s:g} s.",
    figures=training_figures(list(PENDULUM_ARGS), "time_to_target", str(PENDULUM_TARGET)),
    settings=lambda w: {"limit_s": w.solve_limit_s, "agents": list(PENDULUM_ARGS), "target": PENDULUM_TARGET,
                        "ppo_frames": PPO_PENDULUM_FRAME_BUDGET, "sac_frames": SAC_FRAME_BUDGET},
    measure=lambda windows, run: measure_training(PENDULUM_ARGS, "time_to_target", windows.solve_limit_s, run),
    health=training_health(list(PENDULUM_ARGS)),
)

# --- 2c. HalfCheetah-v5 to a mean return of 1,500 within 1M frames with the defaults of the mujoco family.
HALFCHEETAH_TARGET, HALFCHEETAH_FRAMES = 1500, 1_000_000
HALFCHEETAH_ARGS: dict[str, list[str]] = {
    agent: ["--env", "mujoco:HalfCheetah-v5", "--agent", agent, "--actors", "2", "--envs-per-actor", str(envs),
            "--total-frames", str(HALFCHEETAH_FRAMES), "--stop-at-return", str(HALFCHEETAH_TARGET)]
    for agent, envs in (("ppo", 16), ("sac", 8))
}

HALFCHEETAH = Part(
    name="halfcheetah",
    title="HalfCheetah: time and frames to 1,500 per agent",
    meaning="`seedrl train` on MuJoCo HalfCheetah-v5 from an empty run folder, seed = run index, with the mujoco "
            "family's defaults only (no agent flag; docs/agents.md), PPO at 2 x 16 envs and SAC at 2 x 8: wall time "
            "from launch and frames until the mean return of the last 100 episodes reaches {target:,}, within "
            "{frames:,} frames and {limit_s:g} s; and the run's average FPS.",
    figures=(*training_figures(list(HALFCHEETAH_ARGS), "time_to_target", f"{HALFCHEETAH_TARGET:,}"),
             *(Figure(f"{agent}.frames_to_target", f"frames to {HALFCHEETAH_TARGET:,}, {agent}", "frames")
               for agent in HALFCHEETAH_ARGS)),
    settings=lambda w: {"limit_s": w.locomotion_limit_s, "agents": list(HALFCHEETAH_ARGS),
                        "target": HALFCHEETAH_TARGET, "frames": HALFCHEETAH_FRAMES},
    measure=lambda windows, run: measure_training(HALFCHEETAH_ARGS, "time_to_target", windows.locomotion_limit_s, run),
    health=training_health(list(HALFCHEETAH_ARGS)),
)


# --- 3. Inference latency against the number of env slots one learner holds.
LATENCY_SLOTS = (10, 100, 1000)
LATENCY_ENVS_PER_STREAM = 4


def measure_latency(windows: Windows, run: int) -> Measured:
    """benchmarks.load at each slot count; a lost, double-counted or misrouted step fails the run."""
    values: dict[str, Value] = {}
    for slots in LATENCY_SLOTS:
        result = run_load(slots, min(LATENCY_ENVS_PER_STREAM, slots), windows.latency_s)
        if not result.exact or result.errors or result.evaluation.misrouted:
            raise RuntimeError(f"{slots} slots: steps sent {result.train.steps} vs learner frames "
                               f"{result.learner.frames}, {result.evaluation.misrouted} misrouted, "
                               f"errors {result.errors[:3]}")
        values[f"{slots}.inference_p50"] = result.learner.inference_p50_ms
        values[f"{slots}.inference_p99"] = result.learner.inference_p99_ms
        values[f"{slots}.rows_per_s"] = result.fps
    return Measured(values)


LATENCY = Part(
    name="latency",
    title="Inference latency vs env slots",
    meaning="One inference-only learner (Acrobot-v1's spec) holding 10, 100 and 1,000 env slots of simulated actors "
            "in streams of {envs_per_stream} envs, {window_s:g} s each: the learner's inference latency (from its "
            "histogram) and the env rows it answered per second; every step sent was counted once and routed right "
            "(`make bench-load`).",
    figures=tuple(
        figure
        for slots in LATENCY_SLOTS
        for figure in (
            Figure(f"{slots}.inference_p50", f"inference p50, {slots:,} slots", "ms", 2),
            Figure(f"{slots}.inference_p99", f"inference p99, {slots:,} slots", "ms", 2),
            Figure(f"{slots}.rows_per_s", f"rows answered, {slots:,} slots", "rows/s"),
        )
    ),
    settings=lambda w: {"slots": list(LATENCY_SLOTS), "envs_per_stream": LATENCY_ENVS_PER_STREAM,
                        "window_s": w.latency_s},
    measure=measure_latency,
)


# --- 4. Actor env steps/s per env family.
ENVS_PER_ACTOR = 8


def measure_envs(windows: Windows, run: int) -> Measured:
    measured = Measured({})
    for env, options in CASES:
        try:
            measured.values[case_label(env, options)] = case_rate(env, options, ENVS_PER_ACTOR, windows.envs_s)
        except MissingEnvPackage as reason:
            measured.skipped[case_label(env, options)] = str(reason)
    return measured


ENVS = Part(
    name="envs",
    title="Actor env steps/s per family",
    meaning="One actor process of {envs} envs in one stream stepping random actions with no learner, SEED's "
            "preprocessing and frame stacking included, {window_s:g} s each (`make bench-envs`).",
    figures=tuple(Figure(case_label(env, options), case_label(env, options), "env steps/s") for env, options in CASES),
    settings=lambda w: {"envs": ENVS_PER_ACTOR, "window_s": w.envs_s},
    measure=measure_envs,
)


# --- 5. Replay insert/sample throughput and replay agents' train steps/s.
REPLAY_CAPACITIES = (100_000, 1_000_000)
TRAIN_AGENTS = ("vtrace", "r2d2", "sac")


def measure_replay(windows: Windows, run: int) -> Measured:
    values: dict[str, Value] = {}
    for capacity in REPLAY_CAPACITIES:
        insert, _, sample, _ = replay_rates(capacity, windows.replay_s)
        values[f"{capacity}.insert"], values[f"{capacity}.sample"] = insert, sample
    for agent in TRAIN_AGENTS:
        values[f"{agent}.train_steps"] = train_steps_per_second(agent, windows.replay_s)[0]
    return Measured(values)


REPLAY = Part(
    name="replay",
    title="Replay throughput",
    meaning="The prioritized replay with unrolls of 2 Pendulum steps: inserts of 32 unrolls and samples of 256 "
            "followed by their priority updates, on a full replay; and learner train steps/s on CPU on a fixed batch "
            "with the learning tests' configurations, {window_s:g} s windows (`make bench-replay`).",
    figures=(
        *(
            figure
            for capacity in REPLAY_CAPACITIES
            for figure in (
                Figure(f"{capacity}.insert", f"replay insert, {capacity:,} capacity", "unrolls/s"),
                Figure(f"{capacity}.sample", f"replay sample + update, {capacity:,} capacity", "unrolls/s"),
            )
        ),
        *(Figure(f"{agent}.train_steps", f"train steps, {agent}", "steps/s", 1) for agent in TRAIN_AGENTS),
    ),
    settings=lambda w: {"capacities": list(REPLAY_CAPACITIES), "window_s": w.replay_s},
    measure=measure_replay,
)


# --- 6. The learner on a GPU: V-trace with the IMPALA network on Pong.
GPU_BATCH_SIZE = 32  # examples/pong.yaml's
GPU_ENVS_PER_ACTOR = 16


def gpu_actors() -> int:
    """Actor processes for the GPU learner: half the machine's cores, at least 2."""
    return max(2, (os.cpu_count() or 2) // 2)


def measure_gpu_pong(windows: Windows, run: int) -> Measured:
    if not gpu_names():
        raise NotMeasured("no GPU on this machine")
    rate = measure_train(pong_args(gpu_actors(), GPU_ENVS_PER_ACTOR, GPU_BATCH_SIZE), windows.gpu_s,
                         warmup=windows.gpu_warmup_s)
    return Measured({"learner_steps": rate.learner_steps_per_s, "fps": rate.fps})


GPU_PONG = Part(
    name="gpu_pong",
    title="GPU learner on Pong",
    meaning="`seedrl train` with V-trace and the IMPALA deep ResNet on Atari Pong (SEED's preprocessing), batch "
            "{batch_size} x {unroll_length}, {actors} actors x {envs} envs, measured over {window_s:g} s after "
            "{warmup_s:g} s of warm-up: learner train steps/s and frames/s.",
    figures=(
        Figure("learner_steps", "learner train steps, Pong IMPALA", "steps/s", 1),
        Figure("fps", "FPS, Pong IMPALA", "frames/s"),
    ),
    settings=lambda w: {"batch_size": GPU_BATCH_SIZE, "unroll_length": UNROLL_LENGTH, "actors": gpu_actors(),
                        "envs": GPU_ENVS_PER_ACTOR, "window_s": w.gpu_s, "warmup_s": w.gpu_warmup_s},
    measure=measure_gpu_pong,
)

# --- 7. Sample efficiency against the number of envs: the README's command at 2 x 16, 2 x 64 and 2 x 128 envs, with
# V-trace (its agent) and PPO.
SCALING_ENVS = (16, 64, 128)
SCALING_AGENTS = ("vtrace", "ppo")


def measure_scaling(windows: Windows, run: int) -> Measured:
    """`seedrl train` to 475 with each agent at each env count with seed `run`; frames to 475 over the agent's
    2 x 16 run's."""
    measured = Measured({})
    for agent in SCALING_AGENTS:
        for envs in SCALING_ENVS:
            setting = f"{agent}.2x{envs}"
            try:
                result = measure_setting(envs, run, (), windows.scaling_limit_s, agent=agent)
            except TrainFailed as error:
                measured.errors[setting] = str(error)
                continue
            measured.values.update({f"{setting}.{key}": result[key] for key in (
                "frames_to_475", "seconds_to_475", "fps", "best_return", "stall_s", "batch_size", "policy_lag")})
        base = measured.values.get(f"{agent}.2x{SCALING_ENVS[0]}.frames_to_475")
        for envs in SCALING_ENVS[1:]:
            frames = measured.values.get(f"{agent}.2x{envs}.frames_to_475")
            measured.values[f"ratio.{agent}.2x{envs}.frames"] = frames / base if frames and base else None
    return measured


def scaling_figures(agent: str, envs: int) -> tuple[Figure, ...]:
    """One agent's figures at one env count, and its frames over the agent's at 2 x 16."""
    setting, shown = f"{agent}.2x{envs}", f"{agent} 2 x {envs}"
    return (
        Figure(f"{setting}.frames_to_475", f"frames to 475, {shown}", "frames",
               fallback=Figure(f"{setting}.best_return", BEST_RETURN, "", 1)),
        Figure(f"{setting}.seconds_to_475", f"time to 475, {shown}", "s", 1),
        Figure(f"{setting}.fps", f"FPS (run average), {shown}", "frames/s"),
        Figure(f"{setting}.batch_size", f"batch (unrolls), {shown}", "unrolls"),
        Figure(f"{setting}.policy_lag", f"policy lag (median), {shown}", "steps", 1),
        *((Figure(f"ratio.{setting}.frames", f"frames to 475 over {agent} 2 x 16's, {shown}", "ratio", 2),)
          if envs != SCALING_ENVS[0] else ()),
    )


SCALING = Part(
    name="scaling",
    title="CartPole: sample efficiency vs envs",
    meaning="The README's command (batch_size auto) with V-trace and with PPO (minibatches auto: gradient steps of 4 "
            "unrolls, as many as the batch holds) at {actors} actors x {envs} envs per actor, from an empty run "
            "folder, seed = run index, stopped at a mean return of 475 or {limit_s:g} s: frames and seconds to 475, "
            "FPS, the batch the rule chose and the median policy lag; the ratio is the frames to 475 over the same "
            "agent's 2 x 16 run's of the same round (`python -m benchmarks.scaling` has every diagnostic).",
    figures=tuple(figure for agent in SCALING_AGENTS for envs in SCALING_ENVS for figure in scaling_figures(agent, envs)),
    settings=lambda w: {"actors": SCALING_ACTORS, "envs": ", ".join(map(str, SCALING_ENVS)),
                        "limit_s": w.scaling_limit_s},
    measure=measure_scaling,
    health=tuple(Health(f"{agent}.2x{envs}", f"{agent}.2x{envs}.fps", f"{agent}.2x{envs}.best_return",
                        f"{agent}.2x{envs}.stall_s", covers=(f"{agent}.2x{envs}.", f"ratio.{agent}.2x{envs}."))
                 for agent in SCALING_AGENTS for envs in SCALING_ENVS),
)


# --- 8. A peer on the same machine in the same run: Sample Factory 2.1 (APPO), benchmarks.peers.
def measure_peers(windows: Windows, run: int) -> Measured:
    try:
        peer_python()
    except PeerUnavailable as reason:
        raise NotMeasured(str(reason)) from None
    return Measured(measure_round(run, windows.peers))


def peer_figures(setting: str) -> tuple[Figure, ...]:
    """seedrl's figures at one CartPole setting (`vtrace.2x16`) and their ratios to Sample Factory's."""
    shown = f"seedrl {shown_setting(setting)}"
    return (
        Figure(f"{setting}.time_to_475", f"time to 475, {shown}", "s", 1,
               fallback=Figure(f"{setting}.best_return", BEST_RETURN, "", 1)),
        Figure(f"{setting}.frames_to_475", f"frames to 475, {shown}", "frames"),
        Figure(f"{setting}.fps", f"FPS (run average), {shown}", "frames/s"),
        Figure(f"{setting}.training_fps", f"FPS after start-up, {shown}", "frames/s"),
        Figure(f"ratio.{setting}.time_to_475", f"time to 475 over SF's, {shown}", "ratio", 2),
        Figure(f"ratio.{setting}.frames_to_475", f"frames to 475 over SF's, {shown}", "ratio", 2),
        Figure(f"ratio.{setting}.fps", f"FPS (run average) over SF's, {shown}", "ratio", 2),
        Figure(f"ratio.{setting}.training_fps", f"FPS after start-up over SF's, {shown}", "ratio", 2),
    )


PEERS = Part(
    name="peers",
    title="Against Sample Factory 2.1",
    meaning="Interleaved in each round, in alternating order (`make bench-peers`, `python -m benchmarks.peers`): "
            "CartPole-v1 to a mean return of 475 from launch, at most {solve_s:g} s each, Sample Factory's APPO "
            "(`sf_examples.train_gym_env` with the settings of its CartPole example: no RNN, batch 512, rewards "
            "x 0.1; 2 workers x 20 envs, CPU) and seedrl's README command with the agent and envs of each setting: "
            "{settings}. FPS (run average) is the frames of a run's last progress report over the seconds from "
            "launch to that report, start-up included, shutdown not (Sample Factory's last log line, seedrl's "
            "status at which it saw the solve: `benchmarks.time_to_solve.launch_fps`); FPS after start-up is the rate from the first report of frames (Sample Factory's log, "
            "seedrl's summaries) to the last. And Atari "
            "Pong training on the whole machine with 2 x {pong_envs} envs each, emulator frames/s over {window_s:g} s "
            "after {warmup_s:g} s of warm-up, Sample Factory's Atari defaults (Nature CNN) sampling asynchronously "
            "(APPO) and seedrl's V-trace with the Nature CNN. A ratio is seedrl's figure over Sample Factory's in "
            "the same round. Sample Factory runs in its own virtualenv (`benchmarks/peers/venv.py`, created on "
            "first use).",
    figures=(
        Figure("sf.time_to_475", "time to 475, Sample Factory", "s", 1,
               fallback=Figure("sf.best_return", BEST_RETURN, "", 1)),
        Figure("sf.frames_to_475", "frames to 475, Sample Factory", "frames"),
        Figure("sf.fps", "FPS (run average), Sample Factory", "frames/s"),
        Figure("sf.training_fps", "FPS after start-up, Sample Factory", "frames/s"),
        *(figure for setting in SEEDRL_CARTPOLE for figure in peer_figures(setting)),
        Figure("sf.pong.fps", "Pong FPS, Sample Factory", "frames/s"),
        Figure("pong.fps", "Pong FPS, seedrl", "frames/s"),
        Figure("ratio.pong.fps", "Pong FPS over SF's", "ratio", 2),
    ),
    settings=lambda w: {"solve_s": w.peers.solve_s, "settings": ", ".join(map(shown_setting, SEEDRL_CARTPOLE)),
                        "pong_envs": PONG_ENVS, "window_s": w.peers.pong_window_s, "warmup_s": w.peers.pong_warmup_s},
    measure=measure_peers,
    health=(
        Health("sf", "sf.fps", "sf.best_return", "sf.stall_s", covers=("sf.", "ratio.")),
        *(Health(setting, f"{setting}.fps", f"{setting}.best_return", f"{setting}.stall_s",
                 covers=(f"{setting}.", f"ratio.{setting}.")) for setting in SEEDRL_CARTPOLE),
    ),
)

PARTS: tuple[Part, ...] = (OVERHEAD, PONG, CARTPOLE, PENDULUM, HALFCHEETAH, SCALING, PEERS, LATENCY, ENVS, REPLAY, GPU_PONG)
