"""benchmarks.replay's train-step rates: each is measured on the batch its agent trains on."""

from benchmarks.replay import env_slots, train_steps_per_second


def test_env_slots_come_from_the_command_line_or_the_spec_defaults():
    assert env_slots(["--env", "gym:CartPole-v1", "--actors", "3", "--envs-per-actor", "8"]) == 24
    assert env_slots(["--env", "gym:CartPole-v1", "--envs-per-actor", "64"]) == 2 * 64  # 2 actors by default
    assert env_slots(["--env", "gym:CartPole-v1"]) == 2 * 16


def test_vtrace_with_batch_size_auto_trains_on_the_batch_of_the_default_run():
    """V-trace's `batch_size: auto` is a rule, not a number: the benchmark applies it to 2 x 16 env slots,
    one unroll per 2 slots (docs/agents.md), and times real train steps on that batch."""
    steps_per_second, batch, unroll_length = train_steps_per_second("vtrace", 0.5)
    assert (batch, unroll_length) == (16, 16)
    assert steps_per_second > 1
