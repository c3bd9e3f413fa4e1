"""The raw figures of every run of `benchmarks.run_all`, kept as JSON so the doc can be regenerated.

    {"command": ..., "repeats": 3, "quick": false, "wall_seconds": 1800.0, "machine": {...},
     "parts": {"overhead": {"settings": {...}, "runs": [{"envs_alone": 377743.0, ...}, ...],
                            "skipped": {}, "errors": [], "not_measured": null}, ...}}

A run's value is a number, or null where the run did not get there (benchmarks.suite.figures).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.suite.figures import Value


@dataclass
class PartRecord:
    """One part over all runs: its settings, one dict of figures per completed run, cases skipped (with the
    reason), the errors of failed runs, why it was not measured at all (None if it was), and when and by which
    command it was measured (None: as the whole `Results` says)."""

    settings: dict[str, Any]
    runs: list[dict[str, Value]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    not_measured: str | None = None
    date: str | None = None
    command: str | None = None

    def values(self, key: str, dropped: Collection[int] = ()) -> list[Value]:
        """The figure `key` of every run that has it, but the runs numbered in `dropped`."""
        return [run[key] for index, run in enumerate(self.runs) if key in run and index not in dropped]

    def values_where_not_reached(self, key: str, other: str, dropped: Collection[int] = ()) -> list[Value]:
        """The figure `other` of every run that has `key` but did not reach it (None), but the runs in `dropped`."""
        return [run[other] for index, run in enumerate(self.runs)
                if key in run and run[key] is None and other in run and index not in dropped]


@dataclass
class Results:
    """A whole `run_all` invocation: how it was run, on what, and every part's record."""

    command: str
    repeats: int
    quick: bool
    machine: dict[str, Any]
    parts: dict[str, PartRecord]
    wall_seconds: float = 0.0

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=1) + "\n")

    @classmethod
    def load(cls, path: Path) -> Results:
        """Results written by `save`; ValueError naming the file when it is not such a file."""
        try:
            data = json.loads(path.read_text())
            parts = {name: PartRecord(**record) for name, record in data.pop("parts").items()}
            return cls(**data, parts=parts)
        except (OSError, json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path} does not hold benchmarks.run_all results: {error}") from error
