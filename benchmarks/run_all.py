"""Every benchmark in one command, each part run several times; medians and spreads go to docs/benchmarks.md.

Parts (`--only`): overhead (the framework's share of the raw env rate on CartPole), pong (the same at Atari's
step cost, with the IMPALA network), cartpole (time to 475 and FPS of every discrete-action agent), scaling
(frames to 475 as the envs grow), peers (Sample Factory 2.1 against seedrl, interleaved), latency (inference
latency at 10, 100 and 1,000 env slots), envs (actor env steps/s per family), replay (replay throughput and
train steps/s), gpu_pong (the learner on Pong with the IMPALA network, only where TensorFlow sees a GPU). Each
round runs every part once, and there are `--repeats` rounds, so a slow spell of the machine spreads over the
parts instead of landing on one.

The raw figures of every run go to `--results` (JSON, rewritten after each part; with `--only`, the other parts
measured earlier on this machine are kept), the table and the meaning of each part to the section of
`--output` between its `run_all` markers, README.md's training-speed sentence between its own markers, and the
plots to images/benchmarks/ beside the doc. A run that collapsed is left out of its figures and listed.

    python -m benchmarks.run_all                        # every part, 3 rounds (about an hour on 2 cores)
    python -m benchmarks.run_all --only peers           # make bench-peers
    python -m benchmarks.run_all --quick --only latency --output /tmp/b.md --results /tmp/b.json --readme /tmp/R.md
    python -m benchmarks.run_all --from-json benchmarks/results/latest.json   # rewrite the doc, measure nothing
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from benchmarks.suite.machine import machine_facts
from benchmarks.suite.parts import FULL, PARTS, QUICK, NotMeasured, Part, Windows
from benchmarks.suite.plots import draw_plots
from benchmarks.suite.report import README_BEGIN, README_END, read_doc, readme_claim, render, replace_region
from benchmarks.suite.results import PartRecord, Results

DEFAULT_REPEATS = 3
MACHINE_IDENTITY = ("cpus", "cpu_model", "memory_gib", "platform")  # machine facts that must match to merge results
IMAGES = Path("images") / "benchmarks"  # beside the doc


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_all", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, help=f"rounds of every part (default {DEFAULT_REPEATS}; 1 with --quick)")
    parser.add_argument("--only", help=f"comma-separated parts to run: {','.join(part.name for part in PARTS)}")
    parser.add_argument("--quick", action="store_true", help="short windows and time limits, 1 round: a smoke test")
    parser.add_argument("--output", type=Path, default=Path("docs/benchmarks.md"), help="the doc to write")
    parser.add_argument("--results", type=Path, default=Path("benchmarks/results/latest.json"),
                        help="where the raw figures of every run are kept (JSON)")
    parser.add_argument("--readme", type=Path, default=Path("README.md"),
                        help="the README whose training-speed claim is rewritten (between its run_all:readme markers)")
    parser.add_argument("--from-json", type=Path, metavar="RESULTS",
                        help="measure nothing: write the doc and plots from RESULTS, written by an earlier run")
    args = parser.parse_args(argv)
    if args.repeats is not None and args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.from_json and (args.only or args.quick or args.repeats):
        parser.error("--from-json writes the doc from measured figures: --repeats, --only and --quick do not apply")
    try:
        args.parts = select_parts(args.only)
    except ValueError as error:
        parser.error(str(error))
    return args


def select_parts(only: str | None) -> list[Part]:
    """The parts named in `only` (comma-separated), in the suite's order; every part when None."""
    if only is None:
        return list(PARTS)
    names = {name.strip() for name in only.split(",") if name.strip()}
    unknown = names - {part.name for part in PARTS}
    if unknown or not names:
        raise ValueError(f"--only: unknown part(s) {sorted(unknown)}; the parts are {[part.name for part in PARTS]}")
    return [part for part in PARTS if part.name in names]


def measure(parts: Sequence[Part], windows: Windows, results: Results, results_path: Path) -> None:
    """`results.repeats` rounds of every part; each run's figures, skips and errors are saved as they come."""
    started = time.monotonic()
    for run in range(results.repeats):
        for part in parts:
            record = results.parts[part.name]
            if record.not_measured:
                continue
            print(f"[{(time.monotonic() - started) / 60:5.1f} min] {part.name}, run {run + 1} of {results.repeats}",
                  flush=True)
            try:
                measured = part.measure(windows, run)
            except NotMeasured as reason:
                record.not_measured = str(reason)
                print(f"  not measured: {reason}", flush=True)
            except Exception as error:  # noqa: BLE001 - one failed part must not lose the others' figures
                traceback.print_exc()
                record.errors.append(f"run {run + 1}: {type(error).__name__}: {error}")
            else:
                record.runs.append(measured.values)
                record.skipped.update(measured.skipped)
                record.errors += [f"run {run + 1}, {case}: {error}" for case, error in measured.errors.items()]
            results.wall_seconds = time.monotonic() - started
            results.save(results_path)


def write_report(results: Results, output: Path, results_path: Path, readme: Path | None = None) -> None:
    """Draw the plots beside `output` and rewrite its generated section, and the claim in `readme` between its
    markers (MarkerError if markers are wrong)."""
    document = read_doc(output)
    plots = draw_plots(results, output.parent / IMAGES)
    images = {name: os.path.relpath(path, output.parent) for name, path in plots.items()}
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(replace_region(document, render(results, PARTS, images, _shown(results_path)), str(output)))
    print(f"wrote {output} and {len(plots)} plots in {output.parent / IMAGES}")
    if readme is not None and readme.exists() and (claim := readme_claim(results, _shown(output))) is not None:
        readme.write_text(replace_region(readme.read_text(), claim, str(readme), README_BEGIN, README_END))
        print(f"wrote the training-speed claim in {readme}")


def _shown(path: Path) -> str:
    """`path` relative to the working directory where it lies inside it."""
    return os.path.relpath(path) if path.resolve().is_relative_to(Path.cwd()) else str(path)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        if args.from_json:
            write_report(Results.load(args.from_json), args.output, args.from_json, args.readme)
            return
        read_doc(args.output)  # wrong markers fail now, not after the measuring
    except ValueError as error:  # MarkerError, or results that are not run_all's
        sys.exit(f"run_all: {error}")
    windows = QUICK if args.quick else FULL
    repeats = args.repeats or (1 if args.quick else DEFAULT_REPEATS)
    command = shlex.join(["python", "-m", "benchmarks.run_all", *(sys.argv[1:] if argv is None else argv)])
    machine = machine_facts()
    results = Results(
        command=command, repeats=repeats, quick=args.quick, machine=machine,
        parts={part.name: PartRecord(settings=part.settings(windows), date=machine["date"], command=command)
               for part in args.parts},
    )
    if args.only and not args.quick:
        keep_other_parts(results, args.results)
    measure(args.parts, windows, results, args.results)
    write_report(results, args.output, args.results, args.readme)


def keep_other_parts(results: Results, path: Path) -> None:
    """With `--only`, the parts not measured now keep their figures from `path` (each with the date and command
    that measured it), when `path` holds full (not `--quick`) results from a machine like this one."""
    try:
        previous = Results.load(path)
    except ValueError:
        return  # nothing kept (a missing or foreign file)
    same_machine = all(previous.machine.get(key) == results.machine[key] for key in MACHINE_IDENTITY)
    if previous.quick or not same_machine:
        print(f"not keeping the other parts of {path}: measured on another machine or with --quick", flush=True)
        return
    for name, record in previous.parts.items():
        if name in results.parts:
            continue
        record.date = record.date or previous.machine["date"]
        record.command = record.command or previous.command
        results.parts[name] = record


if __name__ == "__main__":
    main()
