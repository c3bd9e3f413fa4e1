"""Configuration of the controller process."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedrl.common import defaults

TOKEN_ENV = defaults.API_TOKEN_ENV
DEFAULT_PORT = 8080


class ControllerConfig(BaseModel):
    """Where the controller listens, where it keeps its state, how it authenticates."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="Address the REST API binds (0.0.0.0 in a container).")
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="REST API port.")
    runtime: Literal["local", "kubernetes"] = Field(
        "local", description="Where experiments run: local processes on this machine, or Kubernetes (Experiment objects).",
    )
    data_dir: Path = Field(Path("runs/controller"), description="The experiment store (SQLite) and every experiment's run folder.")
    max_active_experiments: int = Field(
        4, ge=0, le=1000,
        description="Experiments running at once; more starts get 409 (0 makes a controller that only records experiments).",
    )
    token_file: Path | None = Field(
        None, description=f"File holding the API bearer token (else the {TOKEN_ENV} environment variable; neither: no auth).",
    )
    protect_reads: bool = Field(False, description="Require the token on reads too (it is always required on writes).")
    poll_s: float = Field(0.5, gt=0, le=60, description="Seconds between reconcile passes.")
    kubernetes_config: Path | None = Field(
        None, description="kubernetes runtime: YAML file of cluster settings (images, storage, scheduling); defaults if unset.",
    )
    checkpoints_dir: Path | None = Field(
        None, description="kubernetes runtime: where this process sees the learners' storage (a mounted bucket), "
                          "for the checkpoint endpoints.",
    )

    def token(self) -> str | None:
        """The API token, if one is configured."""
        if self.token_file is not None:
            return self.token_file.read_text().strip() or None
        return os.environ.get(TOKEN_ENV) or None
