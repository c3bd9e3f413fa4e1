"""docs/benchmarks.md's generated section: machine facts, one table of every figure, the parts' meanings, plots.

`run_all` rewrites only the lines between BEGIN and END, so the hand-written sections around them stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.peers.compare import SEEDRL_CARTPOLE, setting_flags
from benchmarks.suite.figures import (
    COLLAPSE_FRACTION, STALL_S, Figure, Summary, collapsed, median_text, spread_text, summarize,
)
from benchmarks.suite.parts import CARTPOLE, PEERS, Part
from benchmarks.suite.results import PartRecord, Results

BEGIN = "<!-- run_all:begin -->"
END = "<!-- run_all:end -->"
README_BEGIN = "<!-- run_all:readme:begin -->"  # README.md's claim about training speed
README_END = "<!-- run_all:readme:end -->"
NEW_DOC = f"# Benchmarks\n\n{BEGIN}\n{END}\n"


class MarkerError(ValueError):
    """The doc does not have exactly one BEGIN line followed by one END line."""


def check_markers(document: str, name: str, begin: str = BEGIN, end: str = END) -> None:
    """MarkerError naming the doc unless it holds `begin` once, then `end` once."""
    begins, ends = document.count(begin), document.count(end)
    if begins != 1 or ends != 1 or document.index(end) < document.index(begin):
        raise MarkerError(
            f"{name} must hold one {begin!r} line and, after it, one {end!r} line around the generated section "
            f"(found {begins} and {ends}); add them where the figures belong"
        )


def replace_region(document: str, region: str, name: str, begin: str = BEGIN, end: str = END) -> str:
    """`document` with everything between its markers replaced by `region`; MarkerError if they are not right."""
    check_markers(document, name, begin, end)
    head, rest = document.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{region.strip()}\n{end}{tail}"


def read_doc(path: Path) -> str:
    """The doc at `path` (a new one holding only the markers when there is none), its markers checked."""
    document = path.read_text() if path.exists() else NEW_DOC
    check_markers(document, str(path))
    return document


def machine_line(machine: Mapping) -> str:
    gpus = ", ".join(machine["gpus"]) if machine["gpus"] else "no GPU"
    return (f"{machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']:g} GiB of memory, "
            f"{machine['platform']}, Python {machine['python']}, TensorFlow {machine['tensorflow']}, {gpus}")


Flags = dict[str, dict[int, str]]  # case -> {run index: why it was left out}


def flags(part: Part, record: PartRecord) -> Flags:
    """The part's runs flagged as collapsed, per case (benchmarks.suite.figures.collapsed)."""
    return {health.case: found for health in part.health if (found := collapsed(record.runs, health))}


def dropped(part: Part, found: Flags, key: str) -> set[int]:
    """The runs whose figure `key` is left out: those flagged in a case that covers the key."""
    return {index for health in part.health if key.startswith(health.covers) for index in found.get(health.case, {})}


def figure_row(title: str, part: Part, record: PartRecord, figure: Figure, found: Flags) -> str:
    """One row of the table: `title` (the part's, on its first row), the figure, its median, spread, runs and unit.

    The runs column says how many runs the median is over: for a figure a run may not reach, how many reached it
    (the success rate); runs flagged as collapsed are left out and counted apart.
    """
    if record.not_measured:
        median, spread, runs = f"not measured: {record.not_measured}", "", ""
    elif figure.key in record.skipped:
        median, spread, runs = "skipped (see below)", "", ""
    elif not (values := record.values(figure.key, left_out := dropped(part, found, figure.key))):
        why = "left out as collapsed (see below)" if left_out else "failed (see below)" if record.errors else "not measured"
        median, spread, runs = why, "", ""
    else:
        summary = summarize(values)
        missed = (record.values_where_not_reached(figure.key, figure.fallback.key, left_out)
                  if figure.fallback else [])
        fallback = summarize(missed) if missed else None
        median, spread = median_text(figure, summary, fallback), spread_text(figure, summary)
        runs = f"{summary.reached}/{summary.runs} reached" if figure.fallback else f"{summary.runs}"
    if record.runs and (count := len(dropped(part, found, figure.key))):
        runs += f" (+{count} flagged)"
    return f"| {title} | {figure.label} | {median} | {spread} | {runs} | {figure.unit} |"


def part_notes(part: Part, record: PartRecord, found: Flags, results: Results) -> list[str]:
    """The part's meaning line (and when it was measured, where that differs from the section's), then a line
    per skipped case, per flagged run and per error."""
    when = ""
    if record.date and record.date[:10] != results.machine["date"][:10]:
        when = f" Measured on {record.date[:10]} by `{record.command}`."
    lines = [f"- **{part.title}** (`--only {part.name}`): {part.meaning.format(**record.settings)}{when}"]
    lines += [f"  - Skipped {case}: {reason}" for case, reason in record.skipped.items()]
    lines += [f"  - Run {index + 1}, {case}: left out as collapsed ({why})"
              for case, runs in found.items() for index, why in sorted(runs.items())]
    lines += [f"  - Error in {error}" for error in record.errors]
    return lines


def render(
    results: Results, parts: Sequence[Part], images: Mapping[str, str], results_path: str
) -> str:
    """The generated section: how and where it was measured, the table, the meanings, the plots.

    `images` maps a part's name to its plot's path relative to the doc; `results_path` is where the raw
    figures are kept.
    """
    ran = [part for part in parts if part.name in results.parts]
    machine = results.machine
    lines = [
        "## Every figure in one run: `make bench-all` (`python -m benchmarks.run_all`)",
        "",
        f"Written by `{results.command}` on {machine['date'][:10]} ({results.wall_seconds / 60:.1f} min of wall "
        f"time): {machine_line(machine)}. Each figure is the median of its runs ({results.repeats} "
        f"round{'s' if results.repeats != 1 else ''}; the runs column counts them), with the lowest and highest run "
        "as its spread; a ratio is taken within one run, against a baseline measured in that run. A run that "
        f"collapsed (FPS below {COLLAPSE_FRACTION:g} of its siblings', no full window of 100 episodes, or no "
        f"progress for {STALL_S:g} s) is left out of the median and spread and listed under its part. This section "
        f"is generated: the raw figures of every run are in `{results_path}`, and `python -m benchmarks.run_all "
        f"--from-json {results_path}` writes it again from them.",
    ]
    if results.quick:
        lines += ["", "**A `--quick` smoke run**: short windows and time limits, so these figures are not comparable."]
    found = {part.name: flags(part, results.parts[part.name]) for part in ran}
    lines += ["", "| part | figure | median | spread (min–max) | runs | unit |", "|---|---|---:|---:|---:|---|"]
    lines += [
        figure_row(part.title if index == 0 else "", part, results.parts[part.name], figure, found[part.name])
        for part in ran for index, figure in enumerate(part.figures)
    ]
    lines += ["", "What each part measures:", ""]
    for part in ran:
        lines += part_notes(part, results.parts[part.name], found[part.name], results)
    not_run = [part.name for part in parts if part.name not in results.parts]
    if not_run:
        lines += ["", f"Not run this time (`--only`): {', '.join(not_run)}."]
    for part in ran:
        if part.name in images:
            lines += ["", f"![{part.title}]({images[part.name]})"]
    return "\n".join(lines) + "\n"


def readme_claim(results: Results, doc: str) -> str | None:
    """README.md's paragraphs on training speed: how fast `make train` solves CartPole (the cartpole part's
    V-trace runs, the README's command) and how seedrl's settings compare with Sample Factory's in the same
    rounds (the peers part); None when the results have neither."""
    if results.quick:
        return None
    paragraphs = [claim for claim in (cartpole_claim(results, doc), peers_claim(results, doc)) if claim]
    return "\n\n".join(paragraphs) or None


def cartpole_claim(results: Results, doc: str) -> str | None:
    """The sentence on `make train`'s time to 475 and FPS; None without cartpole runs."""
    record = results.parts.get("cartpole")
    if record is None or not record.runs:
        return None
    left_out = dropped(CARTPOLE, flags(CARTPOLE, record), "vtrace.")
    times = summarize(record.values("vtrace.time_to_475", left_out))
    fps = summarize(record.values("vtrace.fps", left_out))
    if times.median is None or fps.median is None:
        return (f"In the last benchmark run it did not reach 475 in most runs ({times.reached}/{times.runs}; "
                f"[{doc}]({doc})).")
    date = (record.date or results.machine["date"])[:10]
    return (f"On a {results.machine['cpus']}-core machine it reaches a mean return of 475 in a median "
            f"{times.median:.1f} s of wall time, start-up included ({times.low:.1f}–"
            f"{'not reached' if times.reached < times.runs else f'{times.high:.1f}'} s; {times.reached} of "
            f"{times.runs} runs reached it), at {fps.median:,.0f} frames/s on average, measured on {date} "
            f"([{doc}]({doc}), generated from `benchmarks/results/`).")


def peers_claim(results: Results, doc: str) -> str | None:
    """The sentence on each seedrl CartPole setting's time to 475 and FPS over Sample Factory's, medians of the
    per-round ratios; None without peers runs."""
    record = results.parts.get("peers")
    if record is None or not record.runs:
        return None
    found = flags(PEERS, record)

    def summary_of(key: str) -> Summary | None:
        values = record.values(key, dropped(PEERS, found, key))
        return summarize(values) if values else None

    settings = []
    for setting in SEEDRL_CARTPOLE:
        time, ratio, fps, training = (summary_of(f"{prefix}{setting}.{figure}") for prefix, figure in (
            ("", "time_to_475"), ("ratio.", "time_to_475"), ("ratio.", "fps"), ("ratio.", "training_fps")))
        if time is None or ratio is None or fps is None:  # a setting these results do not hold
            continue
        shown = f"`{setting_flags(setting)}`"
        if time.median is None or ratio.median is None or fps.median is None:
            settings.append(f"{shown} did not reach 475 in most rounds ({time.reached} of {time.runs})")
            continue
        after = (f" ({training.median:.2f} times after both have started)"
                 if training is not None and training.median is not None else "")
        settings.append(f"{shown} reaches it in {time.median:.1f} s, {ratio.median:.2f} times Sample Factory's time, "
                        f"at {fps.median:.2f} times its frames/s from launch{after}")
    if not settings:
        return None
    sf_time = summary_of("sf.time_to_475")
    sf_text = f"{sf_time.median:.1f} s" if sf_time and sf_time.median is not None else "not reached in most rounds"
    date = (record.date or results.machine["date"])[:10]
    return (f"Against Sample Factory 2.1's APPO (its CartPole example's settings, 2 workers x 20 envs) on the same "
            f"machine in the same rounds (`make bench-peers`, {len(record.runs)} rounds on {date}; Sample Factory's "
            f"median time to 475 from launch: {sf_text}), in medians of each round's ratios: " + "; ".join(settings)
            + f" ([{doc}]({doc})).")
