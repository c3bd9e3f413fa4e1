"""Defaults per env family and agent: resolved at admission, overridable by every field, printed by
`seedrl defaults`."""

from __future__ import annotations

import json

import pytest

from seedrl import cli
from seedrl.admission import admit
from seedrl.spec import family_defaults as fd
from seedrl.spec.agents import ACTION_KINDS
from seedrl.spec.experiment import ExperimentSpec
from seedrl.spec.policy_gradient import PRESETS

# An env of each family for each kind of action (families whose packages are installed here).
REFERENCE_ENVS = {
    ("gym", "discrete"): "gym:CartPole-v1", ("gym", "continuous"): "gym:Pendulum-v1",
    ("mujoco", "continuous"): "mujoco:HalfCheetah-v5", ("atari", "discrete"): "atari:Pong",
    ("football", "discrete"): "football:academy_empty_goal_close",
    ("dmlab", "discrete"): "dmlab:explore_goal_locations_small",
}
ENTRIES = [(family, agent) for family, agents in fd.FAMILY_DEFAULTS.items() for agent in agents]


def reference_env(family: str, agent: str) -> str:
    kinds = sorted(ACTION_KINDS[agent])
    env = next((REFERENCE_ENVS[family, kind] for kind in kinds if (family, kind) in REFERENCE_ENVS), None)
    if env is None:
        pytest.skip(f"no {family} env for {agent} is installed here")
    return env


def value_at(values: dict, path: str):
    for key in path.split("."):
        values = values[key]
    return values


@pytest.mark.parametrize("family, agent", ENTRIES)
def test_every_entry_is_admitted_and_written_out_in_the_spec(family, agent):
    spec = admit(ExperimentSpec, {"name": "x", "env": reference_env(family, agent), "agent": agent})
    dumped = spec.model_dump(mode="json")
    for path, value in fd.flatten(fd.family_defaults(family, agent)):
        assert value_at(dumped, path) == value, path


@pytest.mark.parametrize("env, agent", [(env, agent) for env, agents in fd.ENV_DEFAULTS.items() for agent in agents])
def test_every_env_entry_is_admitted_over_its_familys_and_written_out_in_the_spec(env, agent):
    spec = admit(ExperimentSpec, {"name": "x", "env": env, "agent": agent})
    dumped = spec.model_dump(mode="json")
    own = fd.flatten(fd.ENV_DEFAULTS[env][agent])
    assert own
    for path, value in [*own, *fd.flatten(fd.env_defaults(env, agent))]:
        assert value_at(dumped, path) == value, path


def test_an_env_entry_applies_to_that_env_and_agent_only():
    pendulum = admit(ExperimentSpec, {"name": "x", "env": "gym:Pendulum-v1", "agent": "ppo"}).policy_gradient
    assert pendulum.discount == fd.ENV_DEFAULTS["gym:Pendulum-v1"]["ppo"]["policy_gradient"]["discount"] != 0.99
    for env, agent in (("gym:CartPole-v1", "ppo"), ("gym:MountainCarContinuous-v0", "ppo"), ("gym:Pendulum-v1", "awr")):
        other = admit(ExperimentSpec, {"name": "x", "env": env, "agent": agent}).policy_gradient
        assert other.discount == 0.99 and other.epochs == PRESETS[agent]["epochs"], (env, agent)
    given = admit(ExperimentSpec, {"name": "x", "env": "gym:Pendulum-v1", "agent": "ppo",
                                   "policy_gradient": {"discount": 0.95}}).policy_gradient
    assert given.discount == 0.95 and given.epochs == pendulum.epochs


def test_a_given_value_wins_and_nested_sections_merge_field_by_field():
    given = {"name": "x", "env": "gym:CartPole-v1", "agent": "r2d2",
             "r2d2": {"learning_rate": 5e-4, "replay": {"capacity": 9000}}, "network": {"hidden_sizes": [32]}}
    spec = admit(ExperimentSpec, given)
    family = fd.family_defaults("gym", "r2d2")
    assert spec.r2d2.learning_rate == 5e-4 and spec.r2d2.replay.capacity == 9000
    assert spec.r2d2.replay.min_fill == family["r2d2"]["replay"]["min_fill"]
    assert spec.r2d2.batch_size == family["r2d2"]["batch_size"]
    assert spec.network.hidden_sizes == (32,) and spec.network.lstm_size == family["network"]["lstm_size"]


def test_the_family_wins_over_the_agents_preset_and_a_given_value_over_both():
    spec = admit(ExperimentSpec, {"name": "x", "env": "mujoco:HalfCheetah-v5", "agent": "ppo",
                                  "policy_gradient": {"minibatches": 8}})
    config, family = spec.policy_gradient, fd.family_defaults("mujoco", "ppo")["policy_gradient"]
    assert config.policy_loss == PRESETS["ppo"]["policy_loss"]  # the preset's, which the family leaves alone
    assert config.learning_rate == family["learning_rate"] != PRESETS["ppo"]["learning_rate"]
    assert config.epochs == family["epochs"] != PRESETS["ppo"]["epochs"]
    assert config.minibatches == 8


def test_other_families_and_agents_keep_the_models_defaults():
    cartpole = admit(ExperimentSpec, {"name": "x", "env": "gym:CartPole-v1", "agent": "ppo"})
    halfcheetah = admit(ExperimentSpec, {"name": "x", "env": "mujoco:HalfCheetah-v5", "agent": "awr"})
    assert cartpole.policy_gradient.learning_rate == PRESETS["ppo"]["learning_rate"]
    assert halfcheetah.policy_gradient == ExperimentSpec(name="x", env="mujoco:HalfCheetah-v5", agent="awr").policy_gradient
    assert halfcheetah.network == ExperimentSpec(name="x").network


def test_an_admitted_spec_keeps_its_values_when_the_table_changes(monkeypatch):
    """A stored spec holds every value: a later table (an upgrade) does not change an experiment's settings."""
    admitted = admit(ExperimentSpec, {"name": "x", "env": "gym:CartPole-v1", "agent": "r2d2"})
    monkeypatch.setitem(fd.FAMILY_DEFAULTS, "gym", {"r2d2": {"r2d2": {"learning_rate": 0.5}}})
    assert admit(ExperimentSpec, admitted.model_dump(mode="json")) == admitted
    assert admit(ExperimentSpec, {"name": "x", "env": "gym:CartPole-v1", "agent": "r2d2"}).r2d2.learning_rate == 0.5


def test_a_family_value_that_breaks_a_rule_with_a_given_one_is_refused_naming_the_field():
    with pytest.raises(Exception, match="min_fill"):
        admit(ExperimentSpec, {"name": "x", "env": "gym:CartPole-v1", "agent": "r2d2", "r2d2": {"replay": {"capacity": 100}}})


def defaults_json(capsys, *args: str) -> dict:
    assert cli.main(["defaults", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_seedrl_defaults_prints_each_value_and_where_it_comes_from(capsys):
    shown = defaults_json(capsys, "--env", "gym:CartPole-v1", "--agent", "r2d2")
    family = dict(fd.flatten(fd.family_defaults("gym", "r2d2")))
    assert {path for path, row in shown.items() if row["from"] == "gym r2d2 defaults"} == set(family)
    assert all(shown[path]["value"] == value for path, value in family.items())
    model = ExperimentSpec(name="x").model_dump(mode="json")
    assert shown["r2d2.priority_eta"] == {"value": model["r2d2"]["priority_eta"], "from": "model default"}
    assert set(shown) == {path for path, _ in fd.flatten({k: model[k] for k in ("r2d2", "network")})}

    ppo = defaults_json(capsys, "--env", "mujoco:HalfCheetah-v5", "--agent", "ppo")
    assert ppo["policy_gradient.policy_loss"] == {"value": "ppo", "from": "the ppo preset"}
    assert ppo["policy_gradient.learning_rate"]["from"] == "mujoco ppo defaults"
    # Options the preset sets but its own choices do not read are the model's (ppo reads no n_step).
    assert ppo["policy_gradient.n_step"]["from"] == "model default"

    pendulum = defaults_json(capsys, "--env", "gym:Pendulum-v1", "--agent", "ppo")
    own = dict(fd.flatten(fd.ENV_DEFAULTS["gym:Pendulum-v1"]["ppo"]))
    assert {path for path, row in pendulum.items() if row["from"] == "gym:Pendulum-v1 ppo defaults"} == set(own)
    assert all(pendulum[path]["value"] == value for path, value in own.items())
    assert pendulum["policy_gradient.minibatches"]["from"] == "the ppo preset"


def test_seedrl_defaults_shows_a_field_whose_default_is_null(capsys):
    """SAC's target_entropy defaults to None (minus the number of action dimensions)."""
    shown = defaults_json(capsys, "--env", "gym:Pendulum-v1", "--agent", "sac")
    assert shown["sac.target_entropy"] == {"value": None, "from": "model default"}
    assert cli.main(["defaults", "--env", "gym:Pendulum-v1", "--agent", "sac"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("--sac.target-entropy "))
    assert row.split()[1] == "null" and row.endswith("# model default")


def test_seedrl_defaults_text_names_the_flag_of_each_line(capsys):
    assert cli.main(["defaults", "--env", "gym:CartPole-v1", "--agent", "r2d2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("# seedrl train --env gym:CartPole-v1 --agent r2d2")
    row = next(line for line in lines if line.startswith("--r2d2.replay.min-fill "))
    assert row.split()[1] == str(fd.family_defaults("gym", "r2d2")["r2d2"]["replay"]["min_fill"])
    assert row.endswith("# gym r2d2 defaults")


@pytest.mark.parametrize("args, words", [
    (["--env", "gym:NoSuchEnv-v0"], "env"), (["--agent", "dqn"], "agent"),
    (["--env", "gym:CartPole-v1", "--agent", "sac"], "the sac agent needs continuous actions"),
])
def test_seedrl_defaults_refuses_a_bad_env_or_agent_with_the_reason(args, words, capsys):
    with pytest.raises(SystemExit) as refused:
        cli.main(["defaults", *args])
    assert "seedrl defaults: invalid env or agent" in str(refused.value) and words in str(refused.value)
