"""Configuration of the controller process: where it listens and keeps state, how it authenticates, what it bounds."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from seedrl.common import defaults

TOKEN_ENV = defaults.API_TOKEN_ENV
DEFAULT_PORT = 8080
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")


class ControllerConfig(BaseModel):
    """Where the controller listens, where it keeps its state, how it authenticates, and its bounds."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    host: str = Field(
        "127.0.0.1", description="Address the REST API binds (0.0.0.0 in a container; an address other than loopback "
                                 "needs an API token).",
    )
    port: int = Field(DEFAULT_PORT, ge=0, le=65535, description="REST API port.")
    runtime: Literal["local", "kubernetes"] = Field(
        "local", description="Where experiments run: local processes on this machine, or Kubernetes (Experiment objects).",
    )
    data_dir: Path = Field("runs/controller", description="The experiment store (SQLite) and every experiment's run folder.")
    max_active_experiments: int = Field(
        4, ge=0, le=1000,
        description="Experiments running at once; more starts get 409 (0 makes a controller that only records experiments).",
    )
    token_file: Path | None = Field(
        None, description=f"File holding the API bearer token (else the {TOKEN_ENV} environment variable; neither: no auth).",
    )
    protect_reads: bool = Field(False, description="Require the token on reads too (it is always required on writes).")
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="Host names the API answers to besides loopback ones (DNS rebinding); with a token and none "
                    "listed, any.",
    )
    max_body_bytes: int = Field(1_000_000, ge=1024, le=1 << 30, description="Largest request body; a larger one gets 413.")
    poll_s: float = Field(0.5, gt=0, le=60, description="Seconds between reconcile passes.")

    # Exports of checkpoints to SavedModels (each a TensorFlow process).
    export_concurrency: int = Field(1, ge=1, le=64, description="Exports running at once.")
    export_queue: int = Field(4, ge=0, le=1000, description="Exports waiting for a turn; more get 429.")
    export_timeout_s: float = Field(300.0, gt=0, le=86_400, description="An export running longer is ended and fails.")

    # Bounds of the local runtime.
    max_experiment_processes: int = Field(
        64, ge=2, le=100_000, description="local runtime: processes one experiment may run (learner, actors, evaluator).",
    )
    max_processes: int = Field(
        256, ge=2, le=1_000_000, description="local runtime: processes all running experiments may run together.",
    )
    max_memory_gb: float | None = Field(
        None, gt=0, le=1e6,
        description="local runtime: estimated memory (network, replay, env slots) one experiment, and all running "
                    "ones together, may need; unset: this machine's memory.",
    )
    min_checkpoint_interval_s: float = Field(
        1.0, ge=0, le=86_400, description="local runtime: the shortest checkpoint.every_s an experiment may ask for.",
    )

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

    def memory_bound_bytes(self) -> float:
        """`max_memory_gb` in bytes, or this machine's physical memory."""
        if self.max_memory_gb is not None:
            return self.max_memory_gb * 1e9
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def is_loopback(host: str) -> bool:
    """Whether `host` (an address or name, without port) names this machine's loopback interface only."""
    name = host.strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False
