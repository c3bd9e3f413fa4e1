"""Sample efficiency against the number of envs: V-trace (or another agent) on CartPole-v1 at 2 x 16 ... 2 x 128
envs, and why.

For each setting and seed, `seedrl train` runs from an empty run folder until a mean return of 475 (or its
frame budget or time limit), and its TensorBoard summaries are read back for what explains the result:

- frames and learner steps to 475, updates per 1,000 frames, FPS;
- the batch the learner trained on: unrolls (batch size) and distinct episodes in it;
- how stale it was: policy lag (learner steps between acting and training), the importance ratios
  rho = pi/mu (10th, 50th, 90th percentile; the share above rho-bar), KL(behaviour || policy);
- entropy of the policy, gradient norm (median and highest).

The importance-ratio figures are V-trace's; the batch, entropy and gradient norms are every on-policy agent's.

Frames, steps and FPS are taken when the run stops; the others are medians over the run's summaries (one
train step's values every 5 s). Frames and steps survive a loaded machine; FPS, wall time and (somewhat)
policy lag do not, since they depend on how the actors and the learner share the cores.

    python -m benchmarks.scaling                                    # 2 x 16, 32, 64, 128; seeds 0, 1, 2
    python -m benchmarks.scaling --envs 64 --seeds 1 -- --vtrace.batch-size 16   # extra `seedrl train` flags
    python -m benchmarks.scaling --agent ppo --envs 16 64 128 --seeds 5
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import shutil
import statistics
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from benchmarks.time_to_solve import README_ARGS, TrainFailed, train_once, with_flag
from seedrl.common import metrics as m
from seedrl.common.run_folder import RunFolder
from seedrl.plots.runs import EVENT_FILES, read_scalars

ACTORS = 2
ENVS_PER_ACTOR = (16, 32, 64, 128)
TIME_LIMIT_S = 300.0

# Diagnostic -> (TensorBoard tag, `{agent}` standing for the agent's name; how to sum up its values over the run).
DIAGNOSTICS: dict[str, tuple[str, str]] = {
    "batch_size": ("{agent}/batch_size", "median"),
    "episodes_per_batch": ("vtrace/episodes", "median"),
    "policy_lag": (m.POLICY_LAG.name, "median"),
    "rho_p10": ("vtrace/rho_p10", "median"),
    "rho_p50": ("vtrace/rho_p50", "median"),
    "rho_p90": ("vtrace/rho_p90", "median"),
    "rho_clipped": ("vtrace/rho_clipped", "median"),
    "kl_behaviour": ("vtrace/kl_behaviour", "median"),
    "entropy": ("{agent}/entropy", "median"),
    "learning_rate": (m.LEARNING_RATE.name, "first"),
    "gradient_norm": (m.GRAD_NORM.name, "median"),
    "gradient_norm_max": (m.GRAD_NORM.name, "max"),
}
SUMMARIES = {"median": np.median, "max": np.max, "first": lambda values: values[0]}


def diagnostics(logdir: Path, agent: str, keep: Path | None = None) -> dict[str, float | None]:
    """Each of DIAGNOSTICS summed up over the summaries of `agent`'s run folder `logdir` (None: never written);
    the run's TensorBoard summaries are copied to `keep` if given."""
    if keep is not None:
        shutil.copytree(RunFolder(logdir).tensorboard, keep, dirs_exist_ok=True)
    files = sorted(RunFolder(logdir).tensorboard.glob(EVENT_FILES))
    tags = {name: tag.format(agent=agent) for name, (tag, _) in DIAGNOSTICS.items()}
    scalars = read_scalars(files, sorted(set(tags.values())))
    return {
        name: float(SUMMARIES[how](scalars[tags[name]].values)) if tags[name] in scalars else None
        for name, (_, how) in DIAGNOSTICS.items()
    }


def train_args(envs_per_actor: int, extra: Sequence[str], agent: str = "vtrace") -> list[str]:
    """The README's command (2 actors, 3M frames, stop at 475) with `agent` at `envs_per_actor`, then `extra`."""
    return [*with_flag(with_flag(README_ARGS, "--agent", agent), "--envs-per-actor", envs_per_actor), *extra]


def measure_setting(
    envs_per_actor: int, seed: int, extra: Sequence[str], max_seconds: float, keep: Path | None = None,
    agent: str = "vtrace",
) -> dict[str, float | None]:
    """One run: frames, steps and seconds to 475 (None if not reached), FPS, and the run's diagnostics; its
    TensorBoard summaries are kept in `keep` if given."""
    inspect = functools.partial(diagnostics, agent=agent, keep=keep)
    result = train_once(train_args(envs_per_actor, extra, agent), seed, max_seconds, inspect=inspect)
    summary = result.summary
    frames, steps = summary["frames"], summary["learner_steps"]
    solved_frames = summary.get("solved_at_frames")
    return {
        "frames_to_475": solved_frames,
        "seconds_to_475": summary["solved_at_seconds"],
        "steps": float(steps),
        "frames": float(frames),
        "updates_per_1k_frames": 1000.0 * steps / frames if frames else None,
        "fps": summary["fps"],
        "best_return": result.best_mean_return,
        "stall_s": result.longest_stall,
        **result.details,
    }


COLUMNS = ("frames_to_475", "steps", "updates_per_1k_frames", "fps", "batch_size", "episodes_per_batch",
           "policy_lag", "rho_p10", "rho_p50", "rho_p90", "rho_clipped", "kl_behaviour", "entropy",
           "gradient_norm", "gradient_norm_max", "learning_rate")


def cell(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agent", default="vtrace", help="the agent the README's command trains")
    parser.add_argument("--envs", type=int, nargs="+", default=list(ENVS_PER_ACTOR), help="envs per actor (2 actors)")
    parser.add_argument("--seeds", type=int, default=3, help="runs per setting, seeds 0, 1, ...")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=TIME_LIMIT_S)
    parser.add_argument("--json", type=Path, help="append every run's figures to this file (JSON lines)")
    parser.add_argument("--keep", type=Path, help="keep each run's TensorBoard summaries in KEEP/<envs>x<seed>")
    parser.add_argument("extra", nargs="*", help="more `seedrl train` flags (after --)")
    args = parser.parse_args()
    print("| envs | seed | " + " | ".join(COLUMNS) + " |")
    print("|---|---:|" + "---:|" * len(COLUMNS))
    for envs in args.envs:
        reached = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            try:
                keep = args.keep / f"2x{envs}-seed{seed}" if args.keep else None
                run = measure_setting(envs, seed, args.extra, args.max_seconds, keep, args.agent)
            except TrainFailed as error:
                print(f"| {ACTORS} x {envs} | {seed} | failed: {error} |", flush=True)
                continue
            if run["frames_to_475"] is not None:
                reached.append(run["frames_to_475"])
            print(f"| {ACTORS} x {envs} | {seed} | " + " | ".join(cell(run.get(c)) for c in COLUMNS) + " |", flush=True)
            if args.json:
                with args.json.open("a") as out:
                    out.write(json.dumps({"envs_per_actor": envs, "seed": seed, "agent": args.agent, "extra": args.extra,
                                          "date": datetime.date.today().isoformat(), **run}) + "\n")
        median = f"{statistics.median(reached):,.0f}" if reached else "-"
        print(f"|  | {ACTORS} x {envs}: {len(reached)}/{args.seeds} reached 475, median frames {median} |", flush=True)


if __name__ == "__main__":
    main()
