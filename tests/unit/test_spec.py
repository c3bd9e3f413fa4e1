"""ExperimentSpec is the one source: examples validate, and the processes' configs are derived from it."""

from __future__ import annotations

import typing
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from seedrl.admission import admit
from seedrl.spec.actor import ActorConfig
from seedrl.spec.env import LEVEL_CACHE_ROOTS, EnvOptions, UnknownEnvError, split_env_id
from seedrl.spec.experiment import ExperimentSpec
from seedrl.controller.runtimes.local_experiment import LocalExperiment, LocalOptions
from seedrl.spec.learner import LearnerConfig
from tests.specs import spec_bodies

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


def spec_models(model: type[BaseModel], seen: set[type[BaseModel]] | None = None) -> set[type[BaseModel]]:
    """`model` and every model its fields hold, however deeply."""
    seen = set() if seen is None else seen
    seen.add(model)
    for field in model.model_fields.values():
        for inner in [field.annotation, *typing.get_args(field.annotation)]:
            if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
                spec_models(inner, seen)
    return seen


def test_every_model_of_a_spec_validates_its_defaults():
    """A cross-field rule on one field must also judge that field's default (the class of `min_fill` vs `capacity`)."""
    models = spec_models(ExperimentSpec)
    assert len(models) >= 15
    assert [m.__name__ for m in models if not m.model_config.get("validate_default")] == []


@pytest.mark.parametrize(("fields", "location"), [
    ({"r2d2": {"replay": {"capacity": 757}}}, ("r2d2", "replay", "min_fill")),  # the default min_fill is 1000
    ({"sac": {"replay": {"capacity": 999}}}, ("sac", "replay", "min_fill")),
    ({"r2d2": {"unroll_length": 30}}, ("r2d2", "burn_in")),  # the default burn_in is 40
    ({"r2d2": {"unroll_length": 39, "burn_in": 0}}, ()),
    ({"actors": 300}, ("envs_per_actor",)),  # 300 x the default 16 envs > 4096 slots
    ({"inference": {"max_slots": 31}}, ("envs_per_actor",)),  # the default 2 x 16 envs
])
def test_rules_judge_the_defaults_a_spec_leaves_out(fields, location):
    if not location:
        assert admit(ExperimentSpec, {"name": "x", **fields})
        return
    with pytest.raises(ValidationError) as error:
        admit(ExperimentSpec, {"name": "x", **fields})
    assert location in [e["loc"] for e in error.value.errors()]


@pytest.mark.parametrize("value", [True, "3", 3.5, "3.0", [3], None])
def test_admission_takes_json_types_strictly(value):
    with pytest.raises(ValidationError) as error:
        admit(ExperimentSpec, {"name": "x", "actors": value})
    assert error.value.errors()[0]["loc"] == ("actors",)
    assert admit(ExperimentSpec, '{"name": "x", "actors": 3, "vtrace": {"learning_rate": 1}}').actors == 3
    assert admit(ExperimentSpec, '{"name": "x", "actors": 3.0}').actors == 3  # an integer, as JSON Schema counts
    with pytest.raises(ValidationError):
        admit(ExperimentSpec, '{"name": "x", "actors": NaN}')


@pytest.mark.parametrize("env", ["dmlab:a/../../../tmp/evil", "dmlab:levels/./x", "dmlab:a-b", "dmlab:a/", "dmlab:a//b"])
def test_dmlab_level_names_follow_the_level_grammar(env):
    with pytest.raises(ValidationError, match="level name"):
        ExperimentSpec(name="x", env=env)
    with pytest.raises(UnknownEnvError, match="level name"):  # the grammar holds wherever an env id is read
        split_env_id(env)


def test_dmlab_level_names_of_lab_and_dmlab30_are_admitted():
    for env in ("dmlab:explore_goal_locations_small", "dmlab:contributed/dmlab30/rooms_watermaze"):
        assert ExperimentSpec(name="x", env=env).env == env


@pytest.mark.parametrize(("cache", "roots", "allowed"), [
    ("levels", "", True),
    ("cache/dmlab-1.0", "", True),
    ("../levels", "", False),
    ("a/../../levels", "", False),
    ("/tmp/levels", "", False),
    ("gs://my-bucket/levels", "", False),
    ("file:///etc", "/etc", False),
    ("gs://my-bucket/levels", "gs://my-bucket", True),
    ("gs://my-bucket/levels/../../other", "gs://my-bucket", False),
    ("gs://my-bucket-2/levels", "gs://my-bucket", False),
    ("/srv/levels/shared", "gs://b, /srv/levels/", True),
    ("/srv/levels", "/srv/levels", True),
    ("/srv/levelsx", "/srv/levels", False),
])
def test_the_level_cache_is_a_relative_folder_or_under_an_allowed_root(monkeypatch, cache, roots, allowed):
    monkeypatch.setenv(LEVEL_CACHE_ROOTS, roots)
    data = {"name": "x", "env": "dmlab:explore_goal_locations_small", "env_options": {"level_cache_dir": cache}}
    if allowed:
        assert ExperimentSpec.model_validate(data).env_options.level_cache_dir == cache
    else:
        with pytest.raises(ValidationError, match=LEVEL_CACHE_ROOTS):
            ExperimentSpec.model_validate(data)


def test_processes_trust_the_level_cache_of_an_admitted_experiment(monkeypatch):
    """An actor pod has no allow-list of its own: the check is at the door, not in the derived configs."""
    monkeypatch.delenv(LEVEL_CACHE_ROOTS, raising=False)
    options = EnvOptions(level_cache_dir="gs://my-bucket/levels")
    assert ActorConfig(env="dmlab:explore_goal_locations_small", env_options=options).env_options == options


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_an_admitted_spec_is_admitted_again_from_what_is_stored(data):
    """Whatever admission lets in reads back from its stored form unchanged (specs drawn from the models)."""
    body = data.draw(spec_bodies())
    try:
        admitted = admit(ExperimentSpec, body)
    except ValidationError:
        return
    stored = admitted.model_dump_json()
    assert admit(ExperimentSpec, stored).model_dump_json() == stored


def test_a_name_starts_with_a_letter_as_the_learners_service_name_must():
    """Service names are RFC 1035 labels: `1st-run-learner` would be refused by the API server at the first start."""
    with pytest.raises(ValidationError, match=r"name\n.*should match pattern '\^\[a-z\]"):
        ExperimentSpec(name="1st-run")
    assert ExperimentSpec(name="run-1").name == "run-1"
