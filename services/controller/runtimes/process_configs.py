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


def learner_config(
    spec: ExperimentSpec, logdir: Path | str, port: int, metrics_port: int, restore_from: Path | str | None,
    max_message_mb: float | None = None,
) -> dict[str, Any]:
    """A LearnerConfig (as JSON) serving `spec` on `port`, writing to `logdir`, restoring `restore_from` if given."""
    config = spec.model_dump(mode="json", include=set(LearningSpec.model_fields))
    config.update(experiment=spec.name, logdir=str(logdir), port=port, metrics_port=metrics_port,
                  restore_from=str(restore_from) if restore_from else None)
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
