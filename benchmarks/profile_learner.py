"""Where the CPU goes while `seedrl train` trains CartPole: py-spy samples of the learner and the actors.

Starts the README's command (with `--envs-per-actor N`), waits `--warmup` seconds, then samples every
process of the run with `py-spy record --threads --nonblocking` (install py-spy from PyPI) for `--seconds`
and prints, per process, the share of samples of each thread and of the functions most often on top of
the stack (self time), grouped by where they come from. Samples count CPU time only (py-spy leaves idle
threads out), so the shares hold on a machine that is busy with other work too.

    python -m benchmarks.profile_learner --envs-per-actor 64 --seconds 20
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.time_to_solve import README_ARGS, with_flag

STACK = re.compile(r"^thread \(\d+\): (?P<thread>[^;]*);?(?P<frames>.*) (?P<count>\d+)$")
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^:()]*)(:\d+)?\)$")


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def role(pid: int) -> str:
    """`learner` or `actor-N` from the process's command line."""
    command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    match = re.search(r"(learner|actor-\d+)\.json", command)
    return match.group(1) if match else command[:60]


def origin(file: str) -> str:
    """Where a frame's file comes from: seedrl's module, or the library's top-level package."""
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0]
    if "/services/" in file or "seedrl/" in file:
        return "seedrl." + Path(file).stem
    return "python:" + Path(file).stem


def summarize(raw: Path, top: int) -> list[str]:
    """The lines of one process's report from py-spy's raw (collapsed) output."""
    threads: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        match = STACK.match(line)
        if not match:
            continue
        count = int(match.group("count"))
        total += count
        threads[match.group("thread")] += count
        frames = match.group("frames").split(";")
        leaf = FRAME.match(frames[-1]) if frames[-1] else None
        leaves[f"{leaf.group('function')} ({origin(leaf.group('file'))})" if leaf else "(no Python frame)"] += count
    if not total:
        return ["  no samples"]
    lines = [f"  {total} samples; threads: " + ", ".join(f"{name} {count / total:.0%}"
                                                       for name, count in threads.most_common())]
    lines += [f"    {count / total:5.1%}  {name}" for name, count in leaves.most_common(top)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs-per-actor", type=int, default=16)
    parser.add_argument("--agent", default="vtrace", help="the agent the README's command trains")
    parser.add_argument("--warmup", type=float, default=15.0, help="seconds after launch before sampling")
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of sampling")
    parser.add_argument("--rate", type=int, default=100, help="samples per second")
    parser.add_argument("--top", type=int, default=12, help="functions shown per process")
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory() as folder:
        train = subprocess.Popen(
            [sys.executable, "-m", "seedrl.cli", "train", *with_flag(with_flag(README_ARGS, "--agent", args.agent), "--envs-per-actor", args.envs_per_actor)[:-2],
             "--total-frames", "1000000000", "--max-seconds", str(args.warmup + args.seconds + 60),
             "--logdir", f"{folder}/run"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(args.warmup)
            processes = {pid: role(pid) for pid in descendants(train.pid)}
            records = {
                pid: subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", str(int(args.seconds)),
                                       "--rate", str(args.rate), "--format", "raw", "--threads", "--nonblocking",
                                       "--output", f"{folder}/{pid}.txt"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                for pid in processes
            }
            for record in records.values():
                record.wait()
        finally:
            train.send_signal(signal.SIGINT)
            train.wait(60)
        print(f"# seedrl train --agent {args.agent}, CartPole-v1, 2 actors x {args.envs_per_actor} envs: {args.seconds:g} s of samples "
              f"at {args.rate}/s after {args.warmup:g} s\n")
        for pid, name in sorted(processes.items(), key=lambda item: item[1]):
            raw = Path(f"{folder}/{pid}.txt")
            print(f"{name} (pid {pid})")
            print("\n".join(summarize(raw, args.top) if raw.exists() else ["  not sampled"]), flush=True)


if __name__ == "__main__":
    main()
