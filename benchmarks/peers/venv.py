"""The peer's virtualenv, created on first use and kept in a cache folder (never the project's venv).

Sample Factory 2.1 needs numpy < 2, gymnasium < 1 and PyTorch, none of which fit beside seedrl's
TensorFlow and Gymnasium 1.x. ale-py 0.9.1 ships the Atari ROMs (gymnasium[atari] would pull ale-py 0.8,
which downloads them); `import ale_py` registers the `*NoFrameskip-v4` envs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REQUIREMENTS = (
    "sample-factory==2.1.1", "torch==2.13.0", "gymnasium==0.29.1", "ale-py==0.9.1", "numpy<2",
    "opencv-python-headless<4.11",
)
DEFAULT_HOME = Path.home() / ".cache" / "seedrl" / "peers" / "sample-factory"
STAMP = ".seedrl-requirements"  # the requirements the venv was built with, one per line


class PeerUnavailable(RuntimeError):
    """The peer's virtualenv could not be made; the message says why."""


def venv_home() -> Path:
    """Where the peer's venv lives: $SEEDRL_PEERS_DIR/sample-factory, else ~/.cache/seedrl/peers/sample-factory."""
    base = os.environ.get("SEEDRL_PEERS_DIR")
    return Path(base) / "sample-factory" if base else DEFAULT_HOME


def ready(home: Path) -> bool:
    """The venv at `home` exists and was built with REQUIREMENTS."""
    stamp = home / STAMP
    return (home / "bin" / "python").exists() and stamp.exists() and stamp.read_text().split() == list(REQUIREMENTS)


PINNED = {"sample-factory": "2.1.1", "torch": "2.13.0", "gymnasium": "0.29.1", "ale-py": "0.9.1"}
PROBE = f"""
import importlib.metadata as metadata, sys
import sample_factory, torch, ale_py
sys.exit(any(not metadata.version(name).startswith(version) for name, version in {PINNED!r}.items()))
"""


def has_pinned_packages(python: Path) -> bool:
    """`python` imports Sample Factory, PyTorch and ale-py at the pinned versions (a venv made by hand)."""
    return subprocess.run([str(python), "-c", PROBE], capture_output=True).returncode == 0


def peer_python(home: Path | None = None) -> Path:
    """The peer venv's python, creating the venv (a few minutes, once) when it is missing or was built with
    other requirements; PeerUnavailable when pip fails."""
    home = home or venv_home()
    python = home / "bin" / "python"
    if ready(home):
        return python
    if python.exists() and has_pinned_packages(python):
        (home / STAMP).write_text("\n".join(REQUIREMENTS) + "\n")  # made by hand with the same packages
        return python
    print(f"creating Sample Factory's virtualenv in {home} (once; a few minutes)", flush=True)
    home.parent.mkdir(parents=True, exist_ok=True)
    for command in ([sys.executable, "-m", "venv", "--clear", str(home)],
                    [str(python), "-m", "pip", "install", "--quiet", *REQUIREMENTS]):
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise PeerUnavailable(f"{' '.join(command[:4])} ... failed: {done.stderr.strip()[-500:]}")
    (home / STAMP).write_text("\n".join(REQUIREMENTS) + "\n")
    return python
