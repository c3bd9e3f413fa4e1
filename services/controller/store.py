"""Experiments persisted in SQLite: the local runtime's source of truth across controller restarts."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from seedrl.admission import admit
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
    `invalid` says which rule the stored spec breaks, if it no longer validates (after an upgrade
    that tightened a rule, say); `spec` then holds the stored fields as they are, unvalidated.
    """

    name: str
    spec: ExperimentSpec
    desired: Desired = "stopped"
    status: ExperimentStatus = field(default_factory=ExperimentStatus)
    run: dict[str, Any] | None = None
    start_checkpoint: str | None = None
    created_at: float = field(default_factory=time.time)
    invalid: str | None = None


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
            experiment.spec.model_dump_json(warnings=False),
            experiment.desired,
            experiment.status.model_dump_json(),
            None if experiment.run is None else json.dumps(experiment.run),
            experiment.start_checkpoint,
        )

    @staticmethod
    def _row(row: tuple[Any, ...]) -> StoredExperiment:
        """A row as a StoredExperiment; never raises for a row that no longer validates (see `invalid`)."""
        name, spec_json, desired, status_json, run, start_checkpoint, created_at, _ = row
        spec, invalid = read_spec(name, spec_json)
        try:
            status = ExperimentStatus.model_validate_json(status_json)
        except ValidationError:
            status = ExperimentStatus(phase=Phase.FAILED)
        return StoredExperiment(
            name=name, spec=spec, desired=desired if desired in ("running", "stopped") else "stopped", status=status,
            run=_run_record(run), start_checkpoint=start_checkpoint, created_at=created_at, invalid=invalid,
        )


def describe(error: ValidationError) -> str:
    """`field: reason; ...` for each error (the fields dotted, as the REST API names them)."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'spec'}: {e['msg']}" for e in error.errors())


@functools.lru_cache(maxsize=1024)
def read_spec(name: str, text: str) -> tuple[ExperimentSpec, str | None]:
    """A stored spec admitted again, or its fields unvalidated and the rule they break.

    Cached: every reconcile pass reads every row. Specs are replaced, never changed in place.
    """
    try:
        return admit(ExperimentSpec, text), None
    except ValidationError as error:
        reason = describe(error)
    try:
        fields = json.loads(text)
    except ValueError:
        fields = None
    fields = fields if isinstance(fields, dict) else {}
    known = {key: value for key, value in fields.items() if key in ExperimentSpec.model_fields}
    return ExperimentSpec.model_construct(**{**known, "name": name}), reason


def _run_record(text: str | None) -> dict[str, Any] | None:
    try:
        record = None if text is None else json.loads(text)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
