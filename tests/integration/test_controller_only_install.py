"""The controller runs with only the `controller,kubernetes` extras installed: no TensorFlow, no Gymnasium.

A fresh virtualenv gets exactly what the controller image gets: `docker/install.sh` (the image's one
install step; no Docker engine runs here) with the extras its Dockerfile names, from this checkout as
a wheel, so nothing of this machine's project venv leaks in. The real `seedrl controller` then serves
the API there: it validates specs, stores them, and never imports the learner or an env package.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx
import pytest

from seedrl.common.ports import free_port
from tests.integration.helpers import wait_for

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
# Run inside the controller-only venv: import the whole controller and both runtimes, then say what loaded.
PROBE = """
import json, sys
import seedrl.cli, seedrl.controller.app, seedrl.controller.main
import seedrl.controller.runtimes.local, seedrl.controller.runtimes.kubernetes.runtime
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] in ("tensorflow", "keras", "gymnasium")
                        or name.startswith(("seedrl.learner", "seedrl.actor")))))
"""


@pytest.fixture(scope="module")
def controller_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dockerfile = (REPO / "docker" / "controller.Dockerfile").read_text()
    assert "RUN docker/install.sh /opt/venv controller,kubernetes\n" in dockerfile
    venv = tmp_path_factory.mktemp("controller-only") / "venv"
    subprocess.run(["sh", REPO / "docker" / "install.sh", venv, "controller,kubernetes", REPO], check=True, timeout=900)
    return venv / "bin" / "python"


def test_the_controller_only_install_has_no_tensorflow_or_gymnasium(controller_venv: Path) -> None:
    missing = subprocess.run([controller_venv, "-c", "import tensorflow"], capture_output=True)
    assert missing.returncode != 0, "tensorflow is installed in the controller-only venv"
    missing = subprocess.run([controller_venv, "-c", "import gymnasium"], capture_output=True)
    assert missing.returncode != 0, "gymnasium is installed in the controller-only venv"
    loaded = subprocess.run([controller_venv, "-c", PROBE], capture_output=True, text=True, check=True, cwd="/")
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == []


def test_the_controller_serves_and_validates_specs_there(controller_venv: Path, tmp_path: Path) -> None:
    port = free_port()
    log = tmp_path / "controller.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(
            [controller_venv.parent / "seedrl", "controller", "--port", str(port), "--data-dir", str(tmp_path / "data")],
            stdout=output, stderr=subprocess.STDOUT, cwd="/",
        )
    url = f"http://127.0.0.1:{port}"
    try:
        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"the controller exited: {log.read_text()[-3000:]}")
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 60, what="controller ready")
        created = httpx.post(f"{url}/api/v1/experiments", json={"name": "pong", "env": "atari:Pong", "agent": "vtrace"})
        assert created.status_code == 201, created.text
        assert created.json()["spec"]["network"]["torso"] == "auto"
        # What the family names alone tell is still checked: MuJoCo's actions are continuous.
        refused = httpx.post(f"{url}/api/v1/experiments", json={"name": "cheetah", "env": "mujoco:HalfCheetah-v5",
                                                                  "agent": "r2d2"})
        assert refused.status_code == 422
        assert refused.json()["errors"][0]["field"] == "agent"
        unknown = httpx.post(f"{url}/api/v1/experiments", json={"name": "bad", "env": "nope:Thing-v0"})
        assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "env"
        listed = httpx.get(f"{url}/api/v1/experiments").json()
        assert [item["spec"]["name"] for item in listed["items"]] == ["pong"]
    finally:
        process.terminate()
        process.wait(30)
