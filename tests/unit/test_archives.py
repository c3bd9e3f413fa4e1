"""Downloads and exports are .tar.gz archives whose bytes depend only on the files archived."""

from __future__ import annotations

import asyncio
import gzip
import io
import tarfile

from seedrl.controller.routes.experiments import _archive


def archive_bytes(folder, monkeypatch, now: float) -> bytes:
    monkeypatch.setattr(gzip.time, "time", lambda: now)  # the clock a gzip header would record

    async def collect() -> bytes:
        response = _archive([(folder, "model")], "model.tar.gz")
        return b"".join([chunk async for chunk in response.body_iterator])

    return asyncio.run(collect())


def test_the_same_files_archived_at_different_times_give_the_same_bytes(tmp_path, monkeypatch):
    (tmp_path / "saved_model.pb").write_bytes(b"graph" * 1000)
    (tmp_path / "variables").mkdir()
    (tmp_path / "variables" / "variables.index").write_bytes(b"index")
    first, later = archive_bytes(tmp_path, monkeypatch, 1e9), archive_bytes(tmp_path, monkeypatch, 2e9)
    assert first == later
    with tarfile.open(fileobj=io.BytesIO(first), mode="r:gz") as archive:
        assert sorted(archive.getnames()) == ["model", "model/saved_model.pb", "model/variables", "model/variables/variables.index"]
        assert archive.extractfile("model/saved_model.pb").read() == b"graph" * 1000
