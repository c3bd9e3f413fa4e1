"""The client's tables: alignment, ages, sizes, and an experiment's details."""

from __future__ import annotations

from datetime import datetime, timezone

from seedrl.client.commands import age, experiment_details, experiments_table, size, table

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=timezone.utc)


def _experiment(**status: object) -> dict:
    return {
        "name": "cartpole", "created_at": "2024-05-01T10:00:00Z",
        "spec": {"env": "gym:CartPole-v1", "envs_per_actor": 16, "total_frames": 3_000_000},
        "status": {"phase": "Running", "message": "", "ready_actors": 2, "desired_actors": 3, "connected_streams": 4,
                   "frames": 120_000, "fps": 2500.4, "mean_return_100": 87.25, "episodes": 900, "learner_steps": 300,
                   "latest_checkpoint": "ckpt-300", "learner_restarts": 0, "actor_restarts": 1,
                   "started_at": "2024-05-01T10:00:01Z", "finished_at": None, "conditions": [], **status},
    }


def test_table_aligns_columns_and_trims_trailing_space() -> None:
    assert table(("A", "LONGER"), [("wide-cell", "x"), ("b", "")]).splitlines() == [
        "A          LONGER",
        "wide-cell  x",
        "b",
    ]


def test_age_uses_the_largest_unit() -> None:
    times = ("2024-05-01T11:59:30Z", "2024-05-01T11:55:00+00:00", "2024-05-01T09:00:00Z", "2024-04-28T12:00:00Z",
             "2024-05-01T12:00:05Z", None)
    assert [age(t, NOW) for t in times] == ["30s", "5m", "3h", "3d", "0s", "-"]


def test_size_in_binary_units() -> None:
    assert [size(n) for n in (0, 1023, 1536, 20 * 2**20, 3 * 2**30)] == ["0B", "1023B", "1.5KiB", "20.0MiB", "3.0GiB"]


def test_experiments_table_row() -> None:
    header, row = experiments_table([_experiment()], NOW).splitlines()
    assert header.split() == ["NAME", "PHASE", "ACTORS", "FRAMES", "FPS", "RETURN", "AGE"]
    assert row.split() == ["cartpole", "Running", "2/3", "120000", "2500", "87.2", "2h"]


def test_details_list_conditions() -> None:
    condition = {"type": "LearnerReady", "status": "True", "reason": "Serving", "message": "learner answers",
                 "last_transition_time": "2024-05-01T11:59:00Z"}
    lines = experiment_details(_experiment(conditions=[condition]), NOW).splitlines()
    assert "Checkpoint:    ckpt-300" in lines
    assert lines[-3:] == [
        "Conditions:",
        "  TYPE          STATUS  REASON   AGE  MESSAGE",
        "  LearnerReady  True    Serving  1m   learner answers",
    ]


def test_details_without_conditions() -> None:
    assert experiment_details(_experiment(), NOW).splitlines()[-1] == "Conditions:    none"
