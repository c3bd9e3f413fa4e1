"""ExperimentSpec is the one source: examples validate, and the processes' configs are derived from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.runtimes.local_experiment import LocalExperiment, LocalOptions
from seedrl.spec.learner import LearnerConfig

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_specs_are_valid(path):
    assert ExperimentSpec.model_validate(yaml.safe_load(path.read_text())).name == path.stem


def test_the_learner_and_actor_configs_carry_the_spec(tmp_path):
    spec = ExperimentSpec(name="derived", actors=3, envs_per_actor=8, eval_envs=3, seed=7, total_frames=12345,
                          vtrace={"batch_size": 4}, inference={"max_wait_ms": 3.5}, checkpoint={"keep": 5})
    run = LocalExperiment(spec, tmp_path / "derived", tmp_path, LocalOptions(port=5555, metrics_port=-1))
    learner = LearnerConfig.model_validate(run.learner_config(restore_from=None))
    assert learner.experiment == "derived" and learner.port == 5555 and learner.logdir == tmp_path / "derived"
    assert (learner.total_frames, learner.vtrace.batch_size, learner.seed) == (12345, 4, 7)
    assert learner.inference.max_wait_ms == 3.5 and learner.checkpoint.keep == 5
    # This machine only; the run folder's secret required; no stream holds more envs than one actor steps.
    assert (learner.host, learner.metrics_host, learner.max_envs_per_stream) == ("127.0.0.1", "127.0.0.1", 8)
    assert learner.auth.secret_file == tmp_path / "derived" / "secret"
    actors = [run.actor_config(name) for name in run.actor_names()]
    assert {a.learner for a in actors} == {"127.0.0.1:5555"} and all(a.envs_per_actor == 8 for a in actors)
    assert {a.auth.secret_file for a in actors} == {learner.auth.secret_file}
    assert not any(a.evaluation for a in actors)
    (evaluator,) = [run.actor_config(name) for name in run.evaluator_names()]
    assert evaluator.evaluation and evaluator.envs_per_actor == 3 and evaluator.learner == "127.0.0.1:5555"
    # Actor i seeds envs seed..seed+7 of its own block, the evaluator after them all: no two envs share a seed.
    seeds = [a.seed + k for a in [*actors, evaluator] for k in range(a.envs_per_actor)]
    assert len(set(seeds)) == len(seeds)


def test_cross_field_errors_name_the_field_to_fix():
    with pytest.raises(ValidationError) as error:
        ExperimentSpec(name="x", actors=100, envs_per_actor=64)  # 6400 slots > 4096
    assert error.value.errors()[0]["loc"] == ("envs_per_actor",)
    with pytest.raises(ValidationError, match="env slots"):
        ExperimentSpec(name="x", actors=300)  # with the default envs_per_actor (16)
    assert ExperimentSpec(name="x", envs_per_actor=1).actor_streams == 1  # streams_per_actor is an upper bound
    with pytest.raises(ValidationError) as error:
        ExperimentSpec(name="x", resources={"learner": {"gpu": 2, "tpu": {"accelerator": "tpu-v6e-slice", "topology": "2x2"}}})
    assert error.value.errors()[0]["loc"] == ("resources", "learner", "tpu")
    with pytest.raises(ValidationError, match="finite"):
        ExperimentSpec(name="x", vtrace={"learning_rate": float("inf")})
