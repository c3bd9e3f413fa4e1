"""The environment a process started by the controller gets: what it needs to run, never the API token.

Learners, actors and exports run env and model code; whatever is in their environment that code
can read (`/proc/<pid>/environ` included). They get the variables named here and no others.
"""

from __future__ import annotations

import os
from typing import Mapping

from seedrl.controller.config import TOKEN_ENV

# Exact names, and prefixes (ending in `_`), of the variables a child process keeps.
PASSED = (
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_", "TZ", "TMPDIR", "PYTHON", "VIRTUAL_ENV",
    "LD_LIBRARY_PATH", "CUDA_", "NVIDIA_", "TF_", "XLA_", "OMP_", "MKL_", "MUJOCO_", "PYOPENGL_", "SDL_", "GRPC_",
    "GOOGLE_", "CLOUDSDK_", "SEEDRL_",
)
WITHHELD = frozenset({TOKEN_ENV})


def _passed(name: str) -> bool:
    return any(name.startswith(entry) if entry.endswith("_") or entry == "PYTHON" else name == entry for entry in PASSED)


def child_environment(environ: Mapping[str, str] = os.environ) -> dict[str, str]:
    """The variables of `environ` a child process gets: those `PASSED` names, less the API token."""
    return {name: value for name, value in environ.items() if _passed(name) and name not in WITHHELD}
