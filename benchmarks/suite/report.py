"""docs/benchmarks.md's generated section: machine facts, one table of every figure, the parts' meanings, plots.

`run_all` rewrites only the lines between BEGIN and END, so the hand-written sections around them stay.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from benchmarks.suite.figures import Figure, median_text, spread_text, summarize
from benchmarks.suite.parts import Part
from benchmarks.suite.results import PartRecord, Results

BEGIN = "<!-- run_all:begin -->"
END = "<!-- run_all:end -->"
NEW_DOC = f"# Benchmarks\n\n{BEGIN}\n{END}\n"


class MarkerError(ValueError):
    """The doc does not have exactly one BEGIN line followed by one END line."""


def check_markers(document: str, name: str) -> None:
    """MarkerError naming the doc unless it holds BEGIN once, then END once."""
    begins, ends = document.count(BEGIN), document.count(END)
    if begins != 1 or ends != 1 or document.index(END) < document.index(BEGIN):
        raise MarkerError(
            f"{name} must hold one {BEGIN!r} line and, after it, one {END!r} line around the generated section "
            f"(found {begins} and {ends}); add them where the figures belong"
        )


def replace_region(document: str, region: str, name: str) -> str:
    """`document` with everything between its markers replaced by `region`; MarkerError if they are not right."""
    check_markers(document, name)
    head, rest = document.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{region.strip()}\n{END}{tail}"


def read_doc(path: Path) -> str:
    """The doc at `path` (a new one holding only the markers when there is none), its markers checked."""
    document = path.read_text() if path.exists() else NEW_DOC
    check_markers(document, str(path))
    return document


def machine_line(machine: Mapping) -> str:
    gpus = ", ".join(machine["gpus"]) if machine["gpus"] else "no GPU"
    return (f"{machine['cpus']} CPUs ({machine['cpu_model']}), {machine['memory_gib']:g} GiB of memory, "
            f"{machine['platform']}, Python {machine['python']}, TensorFlow {machine['tensorflow']}, {gpus}")


def figure_row(title: str, record: PartRecord, figure: Figure) -> str:
    """One row of the table: `title` (the part's, on its first row), the figure, its median, spread and unit."""
    if record.not_measured:
        median, spread = f"not measured: {record.not_measured}", ""
    elif figure.key in record.skipped:
        median, spread = "skipped (see below)", ""
    elif not (values := record.values(figure.key)):
        median, spread = "failed (see below)" if record.errors else "not measured", ""
    else:
        summary = summarize(values)
        missed = record.values_where_not_reached(figure.key, figure.fallback.key) if figure.fallback else []
        fallback = summarize(missed) if missed else None
        median, spread = median_text(figure, summary, fallback), spread_text(figure, summary)
    return f"| {title} | {figure.label} | {median} | {spread} | {figure.unit} |"


def part_notes(part: Part, record: PartRecord) -> list[str]:
    """The part's meaning line, then a line per skipped case and per error."""
    lines = [f"- **{part.title}** (`--only {part.name}`): {part.meaning.format(**record.settings)}"]
    lines += [f"  - Skipped {case}: {reason}" for case, reason in record.skipped.items()]
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
        f"time): {machine_line(machine)}. Each figure is the median of {results.repeats} "
        f"run{'s' if results.repeats != 1 else ''}, with the lowest and highest run as its spread; a ratio is taken "
        "within one run, against a baseline measured in that run. This section is generated: the raw figures of "
        f"every run are in `{results_path}`, and `python -m benchmarks.run_all --from-json {results_path}` "
        "writes it again from them.",
    ]
    if results.quick:
        lines += ["", "**A `--quick` smoke run**: short windows and time limits, so these figures are not comparable."]
    lines += ["", "| part | figure | median | spread (min–max) | unit |", "|---|---|---:|---:|---|"]
    lines += [
        figure_row(part.title if index == 0 else "", results.parts[part.name], figure)
        for part in ran for index, figure in enumerate(part.figures)
    ]
    lines += ["", "What each part measures:", ""]
    for part in ran:
        lines += part_notes(part, results.parts[part.name])
    not_run = [part.name for part in parts if part.name not in results.parts]
    if not_run:
        lines += ["", f"Not run this time (`--only`): {', '.join(not_run)}."]
    for part in ran:
        if part.name in images:
            lines += ["", f"![{part.title}]({images[part.name]})"]
    return "\n".join(lines) + "\n"
