"""Time to solve CartPole-v1 (a mean return of 475) with each on-policy preset, against V-trace in the same run.

Every agent runs `seedrl train --env gym:CartPole-v1 --agent <agent> --actors 2 --envs-per-actor 16
--total-frames 1000000 --stop-at-return 475` from an empty run folder, `--runs` times with seeds 0, 1, ...
Usage: python -m benchmarks.on_policy [--runs 2] [--agents vtrace ppo vpg awr vmpo]
"""

from __future__ import annotations

import argparse
import statistics

from benchmarks.time_to_solve import train_once

BASELINE = "vtrace"
AGENTS = (BASELINE, "ppo", "vpg", "awr", "vmpo")
TRAIN_ARGS = ["--env", "gym:CartPole-v1", "--actors", "2", "--envs-per-actor", "16",
              "--total-frames", "1000000", "--stop-at-return", "475"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--agents", nargs="+", default=list(AGENTS), choices=AGENTS)
    parser.add_argument("--max-seconds", type=float, default=150.0)
    args = parser.parse_args()
    print("| agent | seed | solved at (s) | frames | final return(100) | FPS (run average) |")
    print("|---|---:|---:|---:|---:|---:|")
    solved_at: dict[str, list[float]] = {}
    for agent in args.agents:
        solved = solved_at.setdefault(agent, [])
        for seed in range(args.runs):
            summary = train_once([*TRAIN_ARGS, "--agent", agent], seed=seed, max_seconds=args.max_seconds).summary
            at = summary["solved_at_seconds"]
            if at is not None:
                solved.append(at)
            print(f"| {agent} | {seed} | {at if at is not None else 'not solved'} | {summary['frames']:,} "
                  f"| {summary['mean_return_100']:.1f} | {summary['fps']:,.0f} |", flush=True)
    medians = {agent: statistics.median(times) for agent, times in solved_at.items() if times}
    print(f"\n| agent | solved | median time to 475 (s) | ratio to {BASELINE} |")
    print("|---|---:|---:|---:|")
    for agent in args.agents:
        median = medians.get(agent)
        ratio = f"{median / medians[BASELINE]:.2f}" if median is not None and BASELINE in medians else "-"
        shown = f"{median:.1f}" if median is not None else "not solved"
        print(f"| {agent} | {len(solved_at[agent])}/{args.runs} | {shown} | {ratio} |")


if __name__ == "__main__":
    main()
