"""The curl examples of docs/api.md, run in order against a live controller with real runs."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.controller import start_controller
from tests.integration.helpers import pids_with

pytestmark = [pytest.mark.integration, pytest.mark.slow]

DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```", markdown, flags=re.DOTALL | re.MULTILINE)


def test_the_curl_examples_in_the_api_docs_work(tmp_path):
    blocks = shell_blocks(DOC.read_text())
    assert len(blocks) >= 8 and all("curl" in block for block in blocks)
    controller = start_controller(tmp_path / "controller", "docs-token")
    workdir = tmp_path / "work"
    workdir.mkdir()
    try:
        # One shell session, as a reader pasting the blocks one after another (later ones use earlier variables).
        result = subprocess.run(
            ["bash", "-xeuo", "pipefail", "-c", "\n".join(blocks)], cwd=workdir, capture_output=True, text=True,
            timeout=400, env={**os.environ, "SEEDRL_URL": controller.url, "SEEDRL_API_TOKEN": "docs-token"},
        )
        assert result.returncode == 0, f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
        with controller.client() as api:
            assert api.get("/api/v1/experiments/cartpole").status_code == 404  # the last example deletes it
        assert list(workdir.glob("cartpole-ckpt-*.tar.gz"))
    finally:
        controller.stop()
    assert pids_with(str(tmp_path)) == []
