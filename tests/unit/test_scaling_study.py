"""The scaling study's table is written from saved runs: one row per setting, medians and counts from the runs."""

from __future__ import annotations

import json

import pytest

from benchmarks.scaling_study import BEGIN, END, main, read_runs, render


def run(envs, seed, frames, extra=(), entropy=0.4, steps=1000.0, grad=50.0, agent="vtrace"):
    return {"envs_per_actor": envs, "seed": seed, "agent": agent, "extra": list(extra), "date": "2026-12-04",
            "frames_to_475": frames,
            "steps": steps, "batch_size": 16.0, "policy_lag": 2.0, "rho_clipped": 0.2, "kl_behaviour": 0.001,
            "entropy": entropy, "gradient_norm_max": grad}


def test_rows_group_runs_by_setting_and_count_what_reached_and_what_collapsed():
    runs = [run(16, 0, 300_000), run(16, 1, 400_000), run(16, 2, 350_000),
            run(64, 0, None, ["--vtrace.batch-size", "16"], entropy=0.00001, grad=766.0),
            run(64, 1, 2_480_000, ["--vtrace.batch-size", "16"], entropy=0.0002, steps=9684.0)]
    table = [line for line in render(runs, "study.jsonl").splitlines() if line.startswith("| 2 x")]
    assert table[0].startswith("| 2 x 16 | defaults (batch_size auto) | 3/3 | 350,000 (300,000–400,000) | 1,000 |")
    assert table[0].endswith("| 50 | 0/3 |")
    assert table[1].startswith("| 2 x 64 | --vtrace.batch-size 16 | 1/2 | not reached (fastest run 2,480,000) | 9,684 |")
    assert table[1].endswith("| 766 | 2/2 |")


def test_another_agent_is_a_setting_of_its_own_and_runs_saved_before_agents_were_recorded_are_v_trace():
    runs = [run(64, 0, 200_000, agent="ppo"), run(64, 1, 300_000, ["--policy-gradient.epochs", "2"], agent="ppo"),
            run(64, 0, 900_000)]
    del runs[-1]["agent"]
    table = [line for line in render(runs, "study.jsonl").splitlines() if line.startswith("| 2 x")]
    assert [row.split(" | ")[1] for row in table] == [
        "--agent ppo", "--agent ppo --policy-gradient.epochs 2", "defaults (batch_size auto)"]


def test_the_study_goes_between_its_markers_and_a_bad_line_is_refused_by_number(tmp_path, monkeypatch):
    runs, doc = tmp_path / "study.jsonl", tmp_path / "agents.md"
    runs.write_text("\n".join(json.dumps(r) for r in [run(16, 0, 300_000), run(64, 0, None)]) + "\n")
    doc.write_text(f"# Agents\n\n{BEGIN}\nold\n{END}\n\nkept\n")
    monkeypatch.setattr("sys.argv", ["scaling_study", str(runs), "--output", str(doc)])
    main()
    written = doc.read_text()
    assert "old" not in written and written.endswith(f"{END}\n\nkept\n") and "| 2 x 64 |" in written
    runs.write_text(json.dumps({"seed": 0}) + "\n")
    with pytest.raises(ValueError, match=r"study.jsonl:1 is not a run"):
        read_runs(runs)
