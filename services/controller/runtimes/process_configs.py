"""The configs of an experiment's learner and actor processes, derived from its ExperimentSpec.

One derivation for every runtime: local processes get them as files in the run folder,
Kubernetes pods as a ConfigMap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seedrl.spec.actor import ActorConfig
from seedrl.spec.experiment import MAX_ACTORS, ExperimentSpec, LearningSpec

EVALUATOR = "evaluator"  # the process stepping the spec's evaluation envs


def metrics_host(host: str) -> str:
    """The /metrics address beside a gRPC one: the same, except every interface (`[::]`) is 0.0.0.0."""
    return "0.0.0.0" if host in ("[::]", "::") else host


def stream_share(spec: ExperimentSpec) -> int:
    """The most envs one stream of the experiment may lease: what one of its actor processes steps
    (an actor splits its envs over its streams, so each of them holds fewer)."""
    return max(spec.envs_per_actor, spec.eval_envs)


def learner_config(
    spec: ExperimentSpec, logdir: Path | str, port: int, metrics_port: int, restore_from: Path | str | None,
    max_message_mb: float | None = None, *, host: str | None = None, secret_file: Path | str | None = None,
) -> dict[str, Any]:
    """A LearnerConfig (as JSON) serving `spec` on `host:port` (host: the config's default if None), writing to
    `logdir`, restoring `restore_from` if given, requiring the secret in `secret_file` if given.

    /metrics binds the same host when one is given. The config holds the secret file's path, never the secret.
    """
    config = spec.model_dump(mode="json", include=set(LearningSpec.model_fields))
    config.update(experiment=spec.name, logdir=str(logdir), port=port, metrics_port=metrics_port,
                  restore_from=str(restore_from) if restore_from else None, max_envs_per_stream=stream_share(spec))
    if host is not None:
        config.update(host=host, metrics_host=metrics_host(host))
    if secret_file is not None:
        config["auth"] = {"secret_file": str(secret_file)}
    if max_message_mb is not None:
        config["max_message_mb"] = max_message_mb
    return config


def actor_config(spec: ExperimentSpec, name: str, learner: str, **settings: Any) -> ActorConfig:
    """The config of actor process `actor-<i>`, or of the `evaluator` (the evaluation envs, seeded after
    every actor's); `settings` are further ActorConfig fields (metrics port, backoff, ...)."""
    if name == EVALUATOR:
        index, envs, settings["evaluation"] = MAX_ACTORS, spec.eval_envs, True
    else:
        index, envs = int(name.removeprefix("actor-")), spec.envs_per_actor
    return ActorConfig(
        learner=learner, env=spec.env, env_options=spec.env_options, envs_per_actor=envs, streams=min(spec.streams_per_actor, envs),
        actor_id=name, experiment=spec.name, seed=spec.seed * 1_000_003 + index * spec.envs_per_actor, **settings,
    )
