"""Experiments persisted in SQLite: the local runtime's source of truth across controller restarts."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.models import ExperimentStatus, Phase

Desired = Literal["running", "stopped"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    desired TEXT NOT NULL,
    status TEXT NOT NULL,
    run TEXT,
    start_checkpoint TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
)
"""


@dataclass
class StoredExperiment:
    """One row: the spec, what the user wants (`desired`), what was observed, and how to find its processes.

    `run` is what a controller needs to adopt the processes of a live run;
    `start_checkpoint` is the checkpoint the next start restores (set by resume).
    """

    name: str
    spec: ExperimentSpec
    desired: Desired = "stopped"
    status: ExperimentStatus = field(default_factory=ExperimentStatus)
    run: dict[str, Any] | None = None
    start_checkpoint: str | None = None
    created_at: float = field(default_factory=time.time)


class AlreadyExists(KeyError):
    """An experiment of that name is stored already."""


class Store:
    """A thread-safe table of experiments in `<data_dir>/controller.db`."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def insert(self, experiment: StoredExperiment) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (experiment.name, *self._columns(experiment), experiment.created_at, time.time()),
                )
            except sqlite3.IntegrityError:
                raise AlreadyExists(experiment.name) from None

    def save(self, experiment: StoredExperiment) -> None:
        with self._lock:
            self._db.execute(
                "UPDATE experiments SET spec=?, desired=?, status=?, run=?, start_checkpoint=?, updated_at=? WHERE name=?",
                (*self._columns(experiment), time.time(), experiment.name),
            )

    def get(self, name: str) -> StoredExperiment | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM experiments WHERE name=?", (name,)).fetchone()
        return None if row is None else self._row(row)

    def all(self) -> list[StoredExperiment]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM experiments ORDER BY created_at, name").fetchall()
        return [self._row(row) for row in rows]

    def page(self, phase: Phase | None, limit: int, offset: int) -> tuple[list[StoredExperiment], int]:
        """Experiments in creation order, optionally of one phase: one page and the total."""
        where, args = ("WHERE json_extract(status, '$.phase') = ?", [phase.value]) if phase else ("", [])
        with self._lock:
            total = self._db.execute(f"SELECT COUNT(*) FROM experiments {where}", args).fetchone()[0]
            rows = self._db.execute(
                f"SELECT * FROM experiments {where} ORDER BY created_at, name LIMIT ? OFFSET ?", [*args, limit, offset]
            ).fetchall()
        return [self._row(row) for row in rows], total

    def delete(self, name: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM experiments WHERE name=?", (name,))

    @staticmethod
    def _columns(experiment: StoredExperiment) -> tuple[Any, ...]:
        return (
            experiment.spec.model_dump_json(),
            experiment.desired,
            experiment.status.model_dump_json(),
            None if experiment.run is None else json.dumps(experiment.run),
            experiment.start_checkpoint,
        )

    @staticmethod
    def _row(row: tuple[Any, ...]) -> StoredExperiment:
        name, spec, desired, status, run, start_checkpoint, created_at, _ = row
        return StoredExperiment(
            name=name, spec=ExperimentSpec.model_validate_json(spec), desired=desired,
            status=ExperimentStatus.model_validate_json(status), run=None if run is None else json.loads(run),
            start_checkpoint=start_checkpoint, created_at=created_at,
        )
