"""Checkpoints on disk, read without TensorFlow (the controller and `seedrl train` use this).

A learner's checkpoint directory holds TensorFlow's files for each checkpoint
(`ckpt-N.index`, `ckpt-N.data-*`), TensorFlow's `checkpoint` state file naming the
newest, and a `ckpt-N.json` written beside each checkpoint with its progress counters.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)$")


@dataclass(frozen=True)
class CheckpointInfo:
    """One checkpoint: its name (`ckpt-N`), learner step, counters when saved, write time and size."""

    name: str
    step: int
    frames: int | None
    episodes: int | None
    mean_return_100: float | None
    time: float
    size_bytes: int


def metadata_path(directory: Path, name: str) -> Path:
    return directory / f"{name}.json"


def checkpoint_files(directory: Path, name: str) -> list[Path]:
    """TensorFlow's files of checkpoint `name` plus its metadata; empty if it does not exist."""
    if not CHECKPOINT_NAME.match(name) or not (directory / f"{name}.index").is_file():
        return []
    return sorted(p for p in directory.glob(f"{name}.*") if p.is_file())


def list_checkpoints(directory: Path) -> list[CheckpointInfo]:
    """Every complete checkpoint in `directory`, oldest step first."""
    found = []
    for index in directory.glob("ckpt-*.index") if directory.is_dir() else ():
        match = CHECKPOINT_NAME.match(index.stem)
        if match is None:
            continue
        try:
            meta = json.loads(metadata_path(directory, index.stem).read_text())
        except (OSError, ValueError):
            meta = {}
        try:
            written = index.stat().st_mtime
            size = sum(p.stat().st_size for p in checkpoint_files(directory, index.stem))
        except OSError:  # rotated out by the learner while being listed
            continue
        found.append(CheckpointInfo(
            name=index.stem, step=int(match.group(1)), frames=meta.get("frames"), episodes=meta.get("episodes"),
            mean_return_100=meta.get("mean_return_100"), time=meta.get("time", written), size_bytes=size,
        ))
    return sorted(found, key=lambda info: info.step)


def latest_checkpoint(directory: Path) -> Path | None:
    """The newest checkpoint named in TensorFlow's `checkpoint` state file (a path without suffix)."""
    state = directory / "checkpoint"
    if not state.exists():
        return None
    for line in state.read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model_checkpoint_path":
            return directory / Path(value.strip().strip('"')).name
    return None


def pin_checkpoint(directory: Path, name: str, into: Path) -> Path:
    """Pin checkpoint `name` of `directory` against rotation: its files, hard-linked into `into`.

    A learner rotates checkpoints out by deleting their names; the linked names keep the same
    files whole for as long as `into` exists (copies stand in where the file system cannot link).
    Returns the pinned checkpoint's path (without suffix). Raises FileNotFoundError when the
    checkpoint is gone, or goes while it is being pinned.
    """
    files = checkpoint_files(directory, name)
    if not files:
        raise FileNotFoundError(f"no checkpoint {name}")
    into.mkdir(parents=True, exist_ok=True)
    for path in files:
        try:
            os.link(path, into / path.name)
        except FileExistsError:
            continue
        except OSError as error:
            if isinstance(error, FileNotFoundError):
                raise
            shutil.copy2(path, into / path.name)
    return into / name
