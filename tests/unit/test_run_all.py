"""`python -m benchmarks.run_all`'s bookkeeping: medians and spreads, the generated doc section, the plots.

Nothing here measures anything: the doc is written from small hand-made results, as `--from-json` writes it
from a real run's JSON.
"""

from __future__ import annotations

import json
import time

import matplotlib.image
import pytest

from benchmarks import run_all
from benchmarks.suite.figures import Figure, Summary, median_text, spread_text, summarize
from benchmarks.suite.parts import CARTPOLE, ENVS, GPU_PONG, LATENCY, OVERHEAD, Measured, NotMeasured, Part, Windows
from benchmarks.suite.report import (
    BEGIN, END, README_BEGIN, README_END, MarkerError, readme_claim, render, replace_region,
)
from benchmarks.suite.results import PartRecord, Results
from benchmarks.time_to_solve import best_mean_return
from seedrl.common import metrics as m

DOC = f"""# Benchmarks

An intro written by hand.

{BEGIN}
old generated text
{END}

## A hand-written section

| kept | table |
|---|---|
"""
MACHINE = {"cpus": 2, "cpu_model": "Test CPU 9000", "memory_gib": 23.5, "platform": "Linux x86_64",
           "python": "3.11.2", "tensorflow": "2.21.0", "gpus": [], "date": "2025-01-02T03:04:05+00:00"}
TIME = Figure("t", "time", "s", 1, fallback=Figure("best", "best mean return", "", 1))


def cartpole_run(seconds: dict[str, float | None], best: dict[str, float]) -> dict[str, float | None]:
    """One CartPole run's figures: every agent at 10,000 FPS, the given times to 475 and best returns."""
    run: dict[str, float | None] = {}
    for agent in CARTPOLE.settings(Windows())["agents"]:
        run[f"{agent}.time_to_475"] = seconds.get(agent, 30.0)
        run[f"{agent}.fps"] = 10_000.0
        run[f"{agent}.best_return"] = best.get(agent, 480.0)
    return run


def small_results() -> Results:
    """Three CartPole runs (vpg never solves, r2d2 twice, awr once), one overhead run, a skipped env, no GPU."""
    cartpole = PartRecord(settings={"limit_s": 150.0, "agents": list(CARTPOLE.settings(Windows())["agents"])}, runs=[
        cartpole_run({"vpg": None, "r2d2": 60.0, "vtrace": 27.6, "awr": None}, {"vpg": 340.4, "awr": 410.0}),
        cartpole_run({"vpg": None, "r2d2": None, "vtrace": 24.1, "awr": 35.0}, {"vpg": 384.3, "r2d2": 470.0}),
        cartpole_run({"vpg": None, "r2d2": 90.0, "vtrace": 28.2, "awr": None}, {"vpg": 300.0, "awr": 420.0}),
    ], errors=["run 2, vtrace: the learner exited and was restarted 1 time(s); the figures are kept"])
    overhead = PartRecord(settings=OVERHEAD.settings(Windows()), runs=[{
        "envs_alone": 377_743.0, "untrained_fps": 54_157.0, "training_fps": 42_263.0,
        "untrained_ratio": 0.143, "training_ratio": 0.112,
    }])
    envs = PartRecord(settings=ENVS.settings(Windows()), runs=[{"gym:CartPole-v1": 169_773.0}],
                      skipped={"dmlab:explore_goal_locations_small": "dmlab environments need the deepmind_lab module"})
    gpu = PartRecord(settings=GPU_PONG.settings(Windows()), not_measured="no GPU on this machine")
    return Results("python -m benchmarks.run_all --repeats 3", 3, False, MACHINE,
                   {"overhead": overhead, "cartpole": cartpole, "envs": envs, "gpu_pong": gpu}, wall_seconds=1800.0)


def rows(section: str) -> dict[str, list[str]]:
    """The generated table's rows by figure label: [median, spread, runs, unit]."""
    table = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| part ")]
    return {cells[1]: cells[2:6] for cells in ([c.strip() for c in line.strip("|").split("|")] for line in table)}


def test_the_median_counts_a_run_that_did_not_get_there_as_slower_than_all_that_did():
    assert summarize([3.0, 1.0, 2.0]) == Summary(2.0, 1.0, 3.0, 3, 3)
    assert summarize([4.0, 1.0, 2.0, 3.0]) == Summary(2.5, 1.0, 4.0, 4, 4)
    assert summarize([30.0, None, 40.0]) == Summary(40.0, 30.0, 40.0, 2, 3)
    assert summarize([None, 50.0, None]) == Summary(None, 50.0, 50.0, 1, 3)
    assert summarize([20.0, None]) == Summary(None, 20.0, 20.0, 1, 2)
    assert summarize([None, None]) == Summary(None, None, None, 0, 2)
    with pytest.raises(ValueError):
        summarize([])


def test_medians_and_spreads_read_as_numbers_or_as_not_reached():
    assert (median_text(TIME, summarize([27.6, 24.1, 28.2]), None), spread_text(TIME, summarize([27.6, 24.1, 28.2]))) \
        == ("27.6", "24.1–28.2")
    partly = summarize([60.0, None, 90.0])
    assert (median_text(TIME, partly, None), spread_text(TIME, partly)) == ("90.0", "60.0–not reached")
    never = summarize([None, None, None])
    assert median_text(TIME, never, summarize([340.4, 384.3, 300.0])) == "not reached (best mean return 384.3)"
    assert median_text(TIME, never, summarize([None, None, None])) == "not reached"
    assert spread_text(TIME, never) == "0/3 reached"
    once = summarize([None, 41.0, None])
    assert median_text(TIME, once, summarize([450.0, 430.5])) == "not reached (best mean return 450.0)"
    assert spread_text(TIME, once) == "41.0–not reached"
    assert median_text(Figure("r", "rate", "steps/s"), summarize([1234567.8]), None) == "1,234,568"


def test_only_the_section_between_the_markers_is_replaced():
    written = replace_region(DOC, "## New figures\n\n| a | b |", "doc.md")
    head, tail = DOC.split(BEGIN)[0], DOC.split(END)[1]
    assert written == f"{head}{BEGIN}\n## New figures\n\n| a | b |\n{END}{tail}"
    assert "old generated text" not in written
    assert replace_region(written, "## New figures\n\n| a | b |", "doc.md") == written


@pytest.mark.parametrize("document", [
    DOC.replace(BEGIN, ""),
    DOC.replace(END, ""),
    DOC.replace(BEGIN, "@").replace(END, BEGIN).replace("@", END),
    DOC + BEGIN + "\n" + END + "\n",
])
def test_a_doc_without_one_pair_of_markers_in_order_is_refused_by_name(document):
    with pytest.raises(MarkerError, match=r"docs/x\.md must hold one '<!-- run_all:begin -->' line"):
        replace_region(document, "new", "docs/x.md")


def test_the_section_states_the_machine_the_command_and_every_figure():
    section = render(small_results(), run_all.PARTS, {"cartpole": "images/benchmarks/cartpole.png"},
                     "benchmarks/results/latest.json")
    assert "`python -m benchmarks.run_all --repeats 3`" in section
    assert "2 CPUs (Test CPU 9000), 23.5 GiB of memory" in section and "TensorFlow 2.21.0, no GPU" in section
    assert "2025-01-02" in section and "30.0 min" in section and "median of its runs (3 rounds" in section
    table = rows(section)
    assert table["time to 475, vtrace"] == ["27.6", "24.1–28.2", "3/3 reached", "s"]
    assert table["time to 475, vpg"] == ["not reached (best mean return 384.3)", "0/3 reached", "0/3 reached", "s"]
    assert table["time to 475, r2d2"] == ["90.0", "60.0–not reached", "2/3 reached", "s"]
    assert table["time to 475, awr"] == ["not reached (best mean return 420.0)", "35.0–not reached", "1/3 reached", "s"]
    assert table["FPS (run average), ppo"] == ["10,000", "10,000–10,000", "3", "frames/s"]
    assert table["overhead ratio b/a"] == ["0.143", "0.143–0.143", "1", "ratio"]
    assert table["dmlab:explore_goal_locations_small"][0] == "skipped (see below)"
    assert "Skipped dmlab:explore_goal_locations_small: dmlab environments need the deepmind_lab module" in section
    assert "  - Error in run 2, vtrace: the learner exited and was restarted 1 time(s)" in section
    for figure in GPU_PONG.figures:
        assert table[figure.label][0] == "not measured: no GPU on this machine"
    assert "A run stops at 150 s" in section
    assert "Not run this time (`--only`): pong, pendulum, halfcheetah, scaling, peers, latency, replay." in section
    assert "![CartPole: time to 475 and FPS per agent](images/benchmarks/cartpole.png)" in section
    assert {figure.label for figure in LATENCY.figures}.isdisjoint(table)


def test_from_json_rewrites_the_section_and_draws_the_plots(tmp_path):
    doc, results_path = tmp_path / "docs" / "benchmarks.md", tmp_path / "latest.json"
    doc.parent.mkdir()
    doc.write_text(DOC)
    small_results().save(results_path)
    readme = tmp_path / "README.md"
    readme.write_text(f"# seedrl\n\n{README_BEGIN}\nan old claim\n{README_END}\n\nmore\n")
    run_all.main(["--from-json", str(results_path), "--output", str(doc), "--readme", str(readme)])
    claim = readme.read_text()
    assert "an old claim" not in claim and claim.endswith(f"{README_END}\n\nmore\n")
    assert "in a median 27.6 s of wall time" in claim and "(24.1–28.2 s; 3 of 3 runs reached it)" in claim
    assert "at 10,000 frames/s on average, measured on 2025-01-02" in claim
    written = doc.read_text()
    assert written.startswith("# Benchmarks\n\nAn intro written by hand.\n\n" + BEGIN)
    assert written.endswith(END + "\n\n## A hand-written section\n\n| kept | table |\n|---|---|\n")
    assert "not reached (best mean return 384.3)" in written
    images = sorted(path.name for path in (doc.parent / "images" / "benchmarks").iterdir())
    assert images == ["cartpole.png", "envs.png", "overhead.png"]  # latency has no runs, gpu_pong was not measured
    for name in images:
        assert f"](images/benchmarks/{name})" in written
        height, width, _ = matplotlib.image.imread(doc.parent / "images" / "benchmarks" / name).shape
        assert (width, height) == (700, 360)


def test_from_json_refuses_a_file_that_is_not_run_all_results_and_a_doc_without_markers(tmp_path):
    doc, results_path = tmp_path / "benchmarks.md", tmp_path / "latest.json"
    results_path.write_text(json.dumps({"command": "x"}))
    doc.write_text(DOC)
    no_readme = ["--readme", str(tmp_path / "no-README.md")]
    with pytest.raises(SystemExit, match="latest.json does not hold benchmarks.run_all results"):
        run_all.main(["--from-json", str(results_path), "--output", str(doc), *no_readme])
    small_results().save(results_path)
    doc.write_text("# Benchmarks\n\nno markers\n")
    with pytest.raises(SystemExit, match="benchmarks.md must hold one"):
        run_all.main(["--from-json", str(results_path), "--output", str(doc), *no_readme])
    assert doc.read_text() == "# Benchmarks\n\nno markers\n"


def test_unknown_parts_and_contradicting_options_are_refused(capsys):
    assert [part.name for part in run_all.select_parts("latency, overhead")] == ["overhead", "latency"]
    with pytest.raises(SystemExit):
        run_all.parse_args(["--only", "latency,gpu"])
    assert "unknown part(s) ['gpu']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_all.parse_args(["--from-json", "x.json", "--quick"])
    with pytest.raises(SystemExit):
        run_all.parse_args(["--repeats", "0"])


def test_each_round_runs_every_part_and_keeps_going_past_a_failed_or_unmeasurable_part(tmp_path):
    """Stand-in parts (no benchmark runs): one measures, one fails in its second run and loses a case in its third,
    one cannot be measured."""
    calls: list[tuple[str, int]] = []

    def steady(windows: Windows, run: int) -> Measured:
        calls.append(("steady", run))
        return Measured({"x": float(run)}, skipped={"case": "not installed"})

    def flaky(windows: Windows, run: int) -> Measured:
        calls.append(("flaky", run))
        if run == 1:
            raise RuntimeError("the learner did not start")
        return Measured({"x": 1.0}, errors={"r2d2": "seedrl train exited with 1"} if run == 2 else {})

    def unmeasurable(windows: Windows, run: int) -> Measured:
        calls.append(("unmeasurable", run))
        raise NotMeasured("no GPU on this machine")

    parts = [Part(name, name, "", (Figure("x", "x", ""),), lambda w: {}, measure)
             for name, measure in (("steady", steady), ("flaky", flaky), ("unmeasurable", unmeasurable))]
    results = Results("cmd", 3, True, MACHINE, {part.name: PartRecord(settings={}) for part in parts})
    run_all.measure(parts, Windows(), results, tmp_path / "latest.json")
    assert calls == [("steady", 0), ("flaky", 0), ("unmeasurable", 0), ("steady", 1), ("flaky", 1), ("steady", 2),
                     ("flaky", 2)]
    kept = Results.load(tmp_path / "latest.json").parts
    assert kept["steady"].runs == [{"x": 0.0}, {"x": 1.0}, {"x": 2.0}]
    assert kept["steady"].skipped == {"case": "not installed"}
    assert kept["flaky"].runs == [{"x": 1.0}, {"x": 1.0}]
    assert kept["flaky"].errors == ["run 2: RuntimeError: the learner did not start",
                                    "run 3, r2d2: seedrl train exited with 1"]
    assert kept["unmeasurable"].not_measured == "no GPU on this machine" and kept["unmeasurable"].runs == []


def test_the_best_mean_return_counts_only_summaries_over_100_episodes(tmp_path):
    """Real TensorBoard event files, written as the learner writes them."""
    import tensorflow as tf

    writer = tf.summary.create_file_writer(str(tmp_path / "tensorboard"))
    for step, (episodes, mean_return) in enumerate([(40, 500.0), (150, 300.0), (260, 420.5), (400, 410.0)]):
        with writer.as_default(step=step):
            tf.summary.scalar(m.EPISODES.name, episodes)
            tf.summary.scalar(m.EPISODE_RETURN.name, mean_return)
    writer.close()
    assert best_mean_return(tmp_path) == 420.5
    assert best_mean_return(tmp_path / "empty") is None


def test_a_collapsed_run_is_flagged_and_left_out_of_its_agents_figures_not_folded_into_the_spread():
    """Run 3's V-trace ran at a fifth of the others' FPS, run 2's PPO never finished 100 episodes, run 1's AWR
    stalled for 45 s: each is left out of its own agent's figures only, and listed with the reason."""
    runs = [cartpole_run({"vtrace": 30.0}, {}), cartpole_run({"vtrace": 31.0, "ppo": None}, {"ppo": None}),
            cartpole_run({"vtrace": 120.0}, {})]
    runs[2]["vtrace.fps"] = 2_000.0
    runs[0]["awr.stall_s"] = 45.0
    cartpole = PartRecord(settings={"limit_s": 150.0, "agents": list(CARTPOLE.settings(Windows())["agents"])}, runs=runs)
    section = render(Results("cmd", 3, False, MACHINE, {"cartpole": cartpole}), run_all.PARTS, {}, "r.json")
    table = rows(section)
    assert table["time to 475, vtrace"] == ["30.5", "30.0–31.0", "2/2 reached (+1 flagged)", "s"]
    assert table["FPS (run average), vtrace"][:3] == ["10,000", "10,000–10,000", "2 (+1 flagged)"]
    assert table["time to 475, ppo"][2] == "2/2 reached (+1 flagged)"
    assert table["time to 475, awr"][2] == "2/2 reached (+1 flagged)"
    assert table["time to 475, vmpo"][2] == "3/3 reached"
    assert "  - Run 3, vtrace: left out as collapsed (FPS 2,000 below 0.5 of the other runs' median 10,000)" in section
    assert "  - Run 2, ppo: left out as collapsed (no full window of 100 episodes)" in section
    assert "  - Run 1, awr: left out as collapsed (no progress for 45 s)" in section


def test_only_keeps_the_other_parts_of_the_results_file_from_the_same_machine(tmp_path, monkeypatch):
    """`--only envs` measures that part (a stand-in) and keeps the earlier cartpole figures, dated."""
    results_path, doc = tmp_path / "latest.json", tmp_path / "benchmarks.md"
    doc.write_text(DOC)
    small_results().save(results_path)
    later = {**MACHINE, "date": "2025-02-03T00:00:00+00:00"}
    monkeypatch.setattr(run_all, "machine_facts", lambda: later)
    envs = next(part for part in run_all.PARTS if part.name == "envs")
    monkeypatch.setattr(run_all, "PARTS", tuple(
        Part(p.name, p.title, p.meaning, p.figures, p.settings, lambda w, r: Measured({"gym:CartPole-v1": 5.0}))
        if p is envs else p for p in run_all.PARTS))
    run_all.main(["--only", "envs", "--repeats", "1", "--results", str(results_path), "--output", str(doc),
                  "--readme", str(tmp_path / "none.md")])
    kept = Results.load(results_path)
    assert kept.parts["envs"].runs == [{"gym:CartPole-v1": 5.0}]
    assert kept.parts["cartpole"].runs == small_results().parts["cartpole"].runs
    section = doc.read_text()
    assert "Measured on 2025-01-02 by `python -m benchmarks.run_all --repeats 3`" in section
    assert rows(section)["time to 475, vtrace"][0] == "27.6"
    other_machine = {**later, "cpus": 64}
    monkeypatch.setattr(run_all, "machine_facts", lambda: other_machine)
    run_all.main(["--only", "envs", "--repeats", "1", "--results", str(results_path), "--output", str(doc),
                  "--readme", str(tmp_path / "none.md")])
    assert set(Results.load(results_path).parts) == {"envs"}


def test_the_training_fps_leaves_out_the_time_before_the_first_frames(tmp_path):
    """Real TensorBoard event files: a summary at 0 frames (start-up), then 3,000 and 9,000 frames 0.5 s apart."""
    import tensorflow as tf

    from benchmarks.time_to_solve import training_fps

    writer = tf.summary.create_file_writer(str(tmp_path / "tensorboard"))
    for step, frames in enumerate([0, 3000, 9000]):
        with writer.as_default(step=step):
            tf.summary.scalar(m.ENV_FRAMES.name, frames)
        writer.flush()
        time.sleep(1.0 if step == 0 else 0.5 if step == 1 else 0.0)
    writer.close()
    assert 6000 / 0.7 < training_fps(tmp_path) < 6000 / 0.45  # not 9,000 over the 1.5 s since the first summary
    assert training_fps(tmp_path / "empty") is None


def test_the_fps_from_launch_ends_at_the_report_that_saw_the_solve_as_a_peers_log_does():
    from benchmarks.time_to_solve import launch_fps

    solved = {"frames": 204_800, "wall_seconds": 16.4, "fps": 11_524.4, "solved_at_seconds": 15.0,
              "solved_at_frames": 195_000}
    assert launch_fps(solved) == 13_000.0  # not the command's wall time, shutdown included
    assert launch_fps({**solved, "solved_at_seconds": None, "solved_at_frames": None}) == 11_524.4


def test_a_runs_diagnostics_and_longest_stall_come_from_its_summaries(tmp_path):
    """Real TensorBoard event files, written as the learner writes them: medians (of the agent's tags too), the
    highest gradient norm, the first learning rate, and the longest time between two summaries."""
    import tensorflow as tf

    from benchmarks.scaling import diagnostics
    from benchmarks.time_to_solve import longest_stall

    writer = tf.summary.create_file_writer(str(tmp_path / "tensorboard"))
    for step, (lag, norm, rate) in enumerate([(2.0, 10.0, 3e-3), (4.0, 90.0, 2e-3), (3.0, 20.0, 1e-3)]):
        with writer.as_default(step=step):
            tf.summary.scalar(m.ENV_FRAMES.name, 1000 * step)
            tf.summary.scalar(m.POLICY_LAG.name, lag)
            tf.summary.scalar(m.GRAD_NORM.name, norm)
            tf.summary.scalar(m.LEARNING_RATE.name, rate)
            tf.summary.scalar("ppo/batch_size", 16.0 * (step + 1))
        writer.flush()
        time.sleep(0.3 if step == 0 else 0.0)
    writer.close()
    found = diagnostics(tmp_path, "ppo")
    assert found["batch_size"] == 32.0  # the agent's own tag
    assert found["policy_lag"] == 3.0 and found["gradient_norm"] == 20.0 and found["gradient_norm_max"] == 90.0
    assert found["learning_rate"] == pytest.approx(3e-3)
    assert found["entropy"] is None  # never written
    assert 0.3 <= longest_stall(tmp_path) < 5.0
    assert longest_stall(tmp_path / "empty") is None


def test_the_readme_claim_needs_the_cartpole_or_the_peers_part():
    results = small_results()
    assert readme_claim(results, "docs/benchmarks.md").startswith("On a 2-core machine it reaches a mean return of 475")
    del results.parts["cartpole"]
    assert readme_claim(results, "docs/benchmarks.md") is None


def peers_run(sf_time: float, seedrl: dict[str, tuple[float | None, float]]) -> dict[str, float | None]:
    """One peers round: Sample Factory solving in `sf_time` s at 10k FPS, each seedrl setting's (time, FPS)."""
    run: dict[str, float | None] = {"sf.time_to_475": sf_time, "sf.fps": 10_000.0, "sf.best_return": 480.0,
                                    "sf.stall_s": 1.0}
    for setting, (seconds, fps) in seedrl.items():
        run.update({f"{setting}.time_to_475": seconds, f"{setting}.fps": fps, f"{setting}.best_return": 480.0,
                    f"{setting}.stall_s": 1.0, f"ratio.{setting}.fps": fps / 10_000.0,
                    f"ratio.{setting}.training_fps": fps / 12_500.0,
                    f"ratio.{setting}.time_to_475": seconds / sf_time if seconds is not None else None})
    return run


def test_the_readme_claim_gives_each_setting_against_sample_factory_in_medians_of_the_rounds():
    rounds = [(50.0, 20.0, None), (40.0, 22.0, 90.0), (60.0, 18.0, None)]
    peers = PartRecord(settings={}, runs=[
        peers_run(sf, {"ppo.2x128": (ppo, 25_000.0), "vtrace.2x64": (vtrace, 20_000.0)}) for sf, ppo, vtrace in rounds
    ], date="2026-12-01T10:00:00")
    results = Results("python -m benchmarks.run_all --only peers", 3, False, MACHINE, {"peers": peers})
    claim = readme_claim(results, "docs/benchmarks.md")
    assert "3 rounds on 2026-12-01" in claim and "Sample Factory's median time to 475 from launch: 50.0 s" in claim
    # ratios 0.40, 0.55, 0.30: their median, not the ratio of the medians (20 / 50)
    assert "`--agent ppo --envs-per-actor 128` reaches it in 20.0 s, 0.40 times Sample Factory's time, at 2.50 " \
           "times its frames/s from launch (2.00 times after both have started)" in claim
    assert "`--agent vtrace --envs-per-actor 64` did not reach 475 in most rounds (1 of 3)" in claim
    assert "vtrace --envs-per-actor 16" not in claim  # not measured in these rounds: no sentence about it
    peers.runs[1]["ppo.2x128.stall_s"] = 45.0  # a stalled round is left out of the ratios
    assert "`--agent ppo --envs-per-actor 128` reaches it in 19.0 s, 0.35 times" in readme_claim(results, "d.md")
    results.quick = True
    assert readme_claim(results, "docs/benchmarks.md") is None
