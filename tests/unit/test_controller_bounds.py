"""The local runtime's bounds, the store's tolerant reads, checkpoint pins and the environment of child processes."""

from __future__ import annotations

import sqlite3

import pytest

from seedrl.common.checkpoint_files import checkpoint_files, pin_checkpoint
from seedrl.controller.config import TOKEN_ENV, ControllerConfig, is_loopback
from seedrl.controller.models import Phase
from seedrl.controller.runtimes.base import Conflict, Invalid
from seedrl.controller.runtimes.bounds import LocalBounds, estimate_memory, processes_of
from seedrl.controller.runtimes.environment import child_environment
from seedrl.controller.store import Store, StoredExperiment
from seedrl.spec.experiment import ExperimentSpec

GB = 1e9


def bounds(**settings) -> LocalBounds:
    return LocalBounds(ControllerConfig(**{"max_memory_gb": 16, **settings}))


def test_processes_are_the_learner_the_actors_and_the_evaluator():
    assert processes_of(ExperimentSpec(name="x", actors=3)) == 4
    assert processes_of(ExperimentSpec(name="x", actors=3, eval_envs=2)) == 5


def test_the_memory_estimate_counts_weights_replay_and_slot_buffers():
    pong = ExperimentSpec(name="x", env="atari:Pong", agent="r2d2")
    estimate = estimate_memory(pong)
    # R2D2's default replay: 10,000 unrolls of 40 + 80 + 1 steps of 84x84x4 bytes (the spec's own comment: 34 GB).
    assert estimate.replay == 10_000 * 121 * 84 * 84 * 4
    assert estimate.slots == 4096 * 121 * 84 * 84 * 4
    wide = estimate_memory(ExperimentSpec(name="x", network={"hidden_sizes": [65536] * 8}))
    assert wide.network > 7 * 65536**2 * 4 * 3  # seven 65536x65536 layers, with Adam's two moments
    smaller = estimate_memory(ExperimentSpec(name="x", inference={"max_slots": 64}))
    assert smaller.slots < estimate_memory(ExperimentSpec(name="x")).slots


@pytest.mark.parametrize(("fields", "field", "setting"), [
    ({"actors": 64}, "actors", "--max-experiment-processes"),
    ({"checkpoint": {"every_s": 0.5}}, "checkpoint.every_s", "--min-checkpoint-interval-s"),
    ({"env": "atari:Pong", "agent": "r2d2"}, "replay", "--max-memory-gb"),
    ({"network": {"hidden_sizes": [65536] * 4}}, "network", "--max-memory-gb"),
    ({"inference": {"max_slots": 1_000_000}, "actors": 1}, "inference.max_slots", "--max-memory-gb"),
])
def test_an_experiment_over_a_bound_is_refused_naming_the_field_and_the_setting(fields, field, setting):
    with pytest.raises(Invalid) as error:
        bounds().check_experiment(ExperimentSpec(name="x", **fields))
    assert error.value.field == field and setting in error.value.reason


def test_bounds_are_the_operators_to_raise():
    bounds(max_experiment_processes=100, min_checkpoint_interval_s=0.1).check_experiment(
        ExperimentSpec(name="x", actors=64, checkpoint={"every_s": 0.5}))
    bounds(max_memory_gb=200).check_experiment(ExperimentSpec(name="x", env="atari:Pong", agent="r2d2"))


def test_the_running_experiments_together_are_bounded_too():
    one = ExperimentSpec(name="one", actors=2)
    bounds(max_processes=6).check_total([one], ExperimentSpec(name="two", actors=2))
    with pytest.raises(Conflict, match="--max-processes"):
        bounds(max_processes=5).check_total([one], ExperimentSpec(name="two", actors=2))
    pong = ExperimentSpec(name="pong", env="atari:Pong", inference={"max_slots": 2048})  # ~1 GB of slot buffers
    size = estimate_memory(pong).total
    with pytest.raises(Conflict, match="--max-memory-gb"):
        bounds(max_memory_gb=2.5 * size / GB).check_total([pong, pong.model_copy(update={"name": "b"})], pong)


def test_the_memory_bound_defaults_to_this_machines_memory():
    assert ControllerConfig().memory_bound_bytes() > 0.5 * GB
    assert ControllerConfig(max_memory_gb=3).memory_bound_bytes() == 3 * GB


def test_loopback_names():
    assert all(map(is_loopback, ["127.0.0.1", "localhost", "::1", "[::1]", "127.3.2.1"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "10.0.0.1", "evil.example", ""]))


def test_a_store_row_that_no_longer_validates_is_read_not_raised(tmp_path):
    store = Store(tmp_path / "controller.db")
    poison = ExperimentSpec.model_construct(**{**ExperimentSpec(name="poison").model_dump(),
                                                "r2d2": {"replay": {"capacity": 757, "min_fill": 1000}}})
    store.insert(StoredExperiment(name="poison", spec=poison))
    store.insert(StoredExperiment(name="fine", spec=ExperimentSpec(name="fine")))
    store.insert(StoredExperiment(name="garbage", spec=ExperimentSpec(name="garbage")))
    with sqlite3.connect(tmp_path / "controller.db") as db:
        db.execute("UPDATE experiments SET spec='{not json', status='[]', run='\"x\"' WHERE name='garbage'")
    records = {record.name: record for record in store.all()}
    assert records["fine"].invalid is None
    assert "r2d2.replay.min_fill" in records["poison"].invalid and records["poison"].spec.name == "poison"
    assert records["garbage"].invalid and records["garbage"].status.phase == Phase.FAILED and records["garbage"].run is None
    assert store.page(None, 10, 0)[1] == 3


def test_a_pinned_checkpoint_outlives_its_rotation(tmp_path):
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    for suffix, content in [(".index", b"index"), (".data-00000-of-00001", b"data" * 1000), (".json", b"{}")]:
        (directory / f"ckpt-7{suffix}").write_bytes(content)
    pinned = pin_checkpoint(directory, "ckpt-7", tmp_path / "pins")
    for path in checkpoint_files(directory, "ckpt-7"):
        path.unlink()  # what the learner's rotation does
    assert pinned == tmp_path / "pins" / "ckpt-7"
    assert (tmp_path / "pins" / "ckpt-7.data-00000-of-00001").read_bytes() == b"data" * 1000
    with pytest.raises(FileNotFoundError):
        pin_checkpoint(directory, "ckpt-7", tmp_path / "again")


def test_child_processes_get_what_they_need_and_never_the_api_token():
    environ = {"PATH": "/usr/bin", "HOME": "/root", TOKEN_ENV: "secret", "SEEDRL_ALLOW_CUSTOM_ENVS": "1",
               "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": "/x", "AWS_SECRET_ACCESS_KEY": "k", "DATABASE_URL": "u"}
    assert child_environment(environ) == {"PATH": "/usr/bin", "HOME": "/root", "SEEDRL_ALLOW_CUSTOM_ENVS": "1",
                                          "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": "/x"}
