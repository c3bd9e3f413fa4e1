"""seedrl against Sample Factory 2.1 (APPO) on this machine, interleaved in one run.

One round runs, one after the other and in alternating order (so that a slow spell of the machine lands on
both systems):

- CartPole-v1 to a mean return of 475 of the last 100 episodes, from launch (process start and imports
  included): Sample Factory with the settings of `train_gym_env`'s CartPole example on 2 workers x 20 envs,
  seedrl with the README's command (V-trace, 2 x 16 envs), with 2 x 64 envs, and with PPO at 2 x 128 envs;
- Atari Pong, training on the whole machine with 2 x 16 envs each: emulator frames per second over a window
  after a warm-up; Sample Factory with its Atari defaults (Nature CNN), sampling asynchronously (APPO),
  seedrl with V-trace and the Nature CNN (`--network.torso nature`). No return threshold: Pong is not learned in minutes on a CPU.

Each round's ratios are seedrl's figure over Sample Factory's in that round (time to 475 and frames to 475:
below 1 is better; FPS: above 1 is better).

    python -m benchmarks.peers                 # 3 rounds; prints the figures of every round
    python -m benchmarks.peers --quick         # a smoke run: short limits, no figure worth keeping
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from benchmarks.peers.sample_factory import CARTPOLE, PONG, run_peer, window_fps
from benchmarks.suite.figures import Value
from benchmarks.system import measure_train
from benchmarks.time_to_solve import README_ARGS, launch_fps, train_once, with_flag

# setting (agent.actorsxenvs) -> `seedrl train` flags: the README's command, at more envs, and with PPO.
SEEDRL_CARTPOLE: dict[str, list[str]] = {
    f"{agent}.2x{envs}": with_flag(with_flag(README_ARGS, "--agent", agent), "--envs-per-actor", envs)
    for agent, envs in (("vtrace", 16), ("vtrace", 64), ("ppo", 128))
}


def shown_setting(setting: str) -> str:
    """A setting as the figures name it: `vtrace.2x16` -> `vtrace 2 x 16`."""
    return setting.replace(".", " ").replace("x", " x ")


def setting_flags(setting: str) -> str:
    """The `seedrl train` flags that make a setting differ from the README's command: `ppo.2x128` ->
    `--agent ppo --envs-per-actor 128`."""
    agent, envs = setting.split(".2x")
    return f"--agent {agent} --envs-per-actor {envs}"


PONG_ACTORS, PONG_ENVS = 2, 16
SEEDRL_PONG = ["--env", "atari:Pong", "--agent", "vtrace", "--network.torso", "nature", "--vtrace.reward-clipping",
               "abs_one", "--actors", str(PONG_ACTORS), "--envs-per-actor", str(PONG_ENVS)]


@dataclass(frozen=True)
class Limits:
    """Time limits of one round, in seconds."""

    solve_s: float = 180.0  # each CartPole run, from launch
    pong_start_s: float = 180.0  # until Sample Factory's first Pong frames
    pong_warmup_s: float = 20.0  # after the first frames
    pong_window_s: float = 30.0


FULL = Limits()
QUICK = Limits(solve_s=15.0, pong_start_s=40.0, pong_warmup_s=3.0, pong_window_s=10.0)  # Sample Factory reports every 5 s


def ratio(ours: Value, theirs: Value) -> Value:
    return None if ours is None or theirs is None or theirs == 0 else ours / theirs


def cartpole_round(seed: int, limits: Limits, peer_first: bool) -> dict[str, Value]:
    """Both systems to 475 on CartPole-v1 with `seed`; their figures and seedrl's ratios to Sample Factory's."""
    values: dict[str, Value] = {}

    def peer() -> None:
        run = run_peer(CARTPOLE, seed, limits.solve_s)
        values.update({"sf.time_to_475": run.time_to_solve, "sf.frames_to_475": run.frames_to_solve,
                       "sf.fps": run.fps, "sf.training_fps": run.training_fps, "sf.best_return": run.best_return,
                       "sf.stall_s": run.progress.longest_stall()})

    def ours() -> None:
        for setting, args in SEEDRL_CARTPOLE.items():
            result = train_once(args, seed, limits.solve_s)
            summary = result.summary
            values.update({f"{setting}.time_to_475": summary["solved_at_seconds"],
                           f"{setting}.frames_to_475": summary["solved_at_frames"],
                           f"{setting}.fps": launch_fps(summary), f"{setting}.training_fps": result.training_fps,
                           f"{setting}.best_return": result.best_mean_return,
                           f"{setting}.stall_s": result.longest_stall})

    for measure in ((peer, ours) if peer_first else (ours, peer)):
        measure()
    for setting in SEEDRL_CARTPOLE:
        for figure in ("time_to_475", "frames_to_475", "fps", "training_fps"):
            values[f"ratio.{setting}.{figure}"] = ratio(values[f"{setting}.{figure}"], values[f"sf.{figure}"])
    return values


def pong_round(seed: int, limits: Limits, peer_first: bool) -> dict[str, Value]:
    """Both systems training Pong: emulator frames/s over the window, and seedrl's over Sample Factory's."""
    values: dict[str, Value] = {}

    def peer() -> None:
        values["sf.pong.fps"] = window_fps(PONG, seed, limits.pong_warmup_s, limits.pong_window_s, limits.pong_start_s)

    def ours() -> None:
        rate = measure_train([*SEEDRL_PONG, "--seed", str(seed)], limits.pong_window_s, warmup=limits.pong_warmup_s)
        values["pong.fps"] = rate.fps

    for measure in ((peer, ours) if peer_first else (ours, peer)):
        measure()
    values["ratio.pong.fps"] = ratio(values["pong.fps"], values["sf.pong.fps"])
    return values


def measure_round(run: int, limits: Limits) -> dict[str, Value]:
    """Round `run` (its seed): CartPole, then Pong; Sample Factory goes first in odd rounds."""
    return {**cartpole_round(run, limits, peer_first=run % 2 == 1), **pong_round(run, limits, run % 2 == 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="short limits: a smoke run")
    args = parser.parse_args()
    limits = QUICK if args.quick else FULL
    for run in range(args.rounds):
        values = measure_round(run, limits)
        print(f"round {run}: " + ", ".join(f"{key}={value:,.3g}" if value is not None else f"{key}=-"
                                          for key, value in values.items()), flush=True)


if __name__ == "__main__":
    main()
