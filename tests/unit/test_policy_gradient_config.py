"""On-policy agent options: presets, overrides, invalid combinations and flags."""

import argparse

import pytest
from pydantic import ValidationError

from seedrl.common import flags
from seedrl.spec.experiment import ExperimentSpec, LearningSpec
from seedrl.launch.config import CLUSTER_ONLY_FIELDS, TrainConfig
from seedrl.spec.policy_gradient import PRESETS, PolicyGradientConfig, minibatch_count


@pytest.mark.parametrize("agent", ["ppo", "vpg", "awr", "vmpo"])
def test_a_preset_fills_its_options_and_keeps_the_defaults_of_the_others(agent):
    config = LearningSpec(agent=agent).policy_gradient
    defaults = PolicyGradientConfig()
    for name in PolicyGradientConfig.model_fields:
        assert getattr(config, name) == PRESETS[agent].get(name, getattr(defaults, name)), name
    assert config.policy_loss == agent


def test_options_set_in_the_spec_override_the_preset_and_survive_a_round_trip():
    spec = LearningSpec(agent="ppo", policy_gradient={"epochs": 2, "ppo_epsilon": 0.1})
    assert (spec.policy_gradient.epochs, spec.policy_gradient.ppo_epsilon) == (2, 0.1)
    assert spec.policy_gradient.minibatches == PRESETS["ppo"]["minibatches"]
    assert LearningSpec.model_validate(spec.model_dump()) == spec  # what the learner process receives
    assert LearningSpec.model_validate_json(spec.model_dump_json()) == spec


def test_the_generic_agent_and_other_agents_keep_the_options_as_given():
    assert LearningSpec(agent="policy_gradient").policy_gradient == PolicyGradientConfig()
    assert LearningSpec(agent="vtrace", policy_gradient={"epochs": 3}).policy_gradient.epochs == 3


def test_a_preset_option_the_chosen_estimator_does_not_read_falls_back_to_its_default():
    spec = LearningSpec(agent="vmpo", policy_gradient={"advantage_estimator": "gae"})
    assert spec.policy_gradient.n_step == PolicyGradientConfig().n_step


@pytest.mark.parametrize("agent,options,message", [
    ("ppo", {"policy_loss": "vpg"}, "policy_loss: agent ppo uses policy_loss ppo"),
    ("policy_gradient", {"awr_beta": 0.5}, "awr_beta: applies only with policy_loss awr"),
    ("ppo", {"n_step": 3}, "n_step: applies only with advantage_estimator n_step"),
    ("vmpo", {"td_lambda": 0.9}, "td_lambda: applies only with advantage_estimator gae or vtrace"),
    ("policy_gradient", {"huber_delta": 2.0}, "huber_delta: applies only with value_loss huber"),
    ("policy_gradient", {"clip_rho_threshold": 2.0}, "clip_rho_threshold: applies only with advantage_estimator vtrace"),
    ("ppo", {"minibatches": 3, "batch_size": 16}, "minibatches: batch mode split splits"),
    ("policy_gradient", {"batch_mode": "shuffle", "minibatches": 5, "batch_size": 16}, "choose a divisor of batch_size"),
    ("policy_gradient", {"initial_std": 0.01, "min_std": 0.1}, "min_std: must be below initial_std"),
    ("ppo", {"batch_size": 10}, "minibatches: auto takes 4 unrolls per gradient step (auto_minibatch_unrolls), "
                                "which do not divide a batch of 10 unrolls"),
    ("ppo", {"minibatches": 4, "auto_minibatch_unrolls": 8}, "auto_minibatch_unrolls: applies only with minibatches auto"),
])
def test_invalid_combinations_are_rejected_naming_the_option(agent, options, message):
    with pytest.raises(ValidationError) as error:
        ExperimentSpec(name="x", agent=agent, policy_gradient=options)
    (only,) = error.value.errors()
    assert only["loc"] == ("policy_gradient",)
    assert message in only["msg"]


def test_split_batch_modes_need_a_feed_forward_network():
    with pytest.raises(ValidationError, match="batch_mode: split trains on single transitions"):
        LearningSpec(agent="ppo", network={"lstm_size": 16})
    assert LearningSpec(agent="ppo", network={"lstm_size": 16}, policy_gradient={"batch_mode": "shuffle"})


def test_out_of_range_options_name_the_nested_field():
    with pytest.raises(ValidationError) as error:
        LearningSpec(agent="ppo", policy_gradient={"ppo_epsilon": 1.5})
    assert error.value.errors()[0]["loc"] == ("policy_gradient", "ppo_epsilon")


def test_train_flags_select_a_preset_and_override_its_options():
    parser = argparse.ArgumentParser()
    flags.add_model_flags(parser, TrainConfig, exclude=CLUSTER_ONLY_FIELDS)
    argv = ["--agent", "ppo", "--policy-gradient.epochs", "8", "--policy-gradient.batch-mode", "shuffle",
            "--policy-gradient.normalize-observations", "--policy-gradient.action-distribution", "tanh_gaussian"]
    config = TrainConfig.model_validate(flags.model_values(parser.parse_args(argv), TrainConfig))
    options = config.policy_gradient
    assert config.agent == "ppo" and options.policy_loss == "ppo"
    assert (options.epochs, options.batch_mode, options.normalize_observations) == (8, "shuffle", True)
    assert options.action_distribution == "tanh_gaussian" and options.minibatches == PRESETS["ppo"]["minibatches"]
    with pytest.raises(SystemExit):
        parser.parse_args(["--policy-gradient.batch-mode", "sideways"])
    for given, expected in (("8", 8), ("auto", "auto")):
        argv = ["--agent", "ppo", "--policy-gradient.minibatches", given]
        config = TrainConfig.model_validate(flags.model_values(parser.parse_args(argv), TrainConfig))
        assert config.policy_gradient.minibatches == expected


def test_automatic_minibatches_keep_each_gradient_steps_size_as_the_batch_grows():
    config = LearningSpec(agent="ppo").policy_gradient
    assert (config.minibatches, config.auto_minibatch_unrolls) == ("auto", 4)
    assert [minibatch_count(config, batch) for batch in (4, 16, 64, 128)] == [1, 4, 16, 32]
    fixed = LearningSpec(agent="ppo", policy_gradient={"minibatches": 4}).policy_gradient
    assert [minibatch_count(fixed, batch) for batch in (16, 128)] == [4, 4]
    with pytest.raises(ValueError, match="do not divide a batch of 6 unrolls"):
        minibatch_count(config, 6)
