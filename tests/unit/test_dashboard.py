"""The Grafana dashboard and the Prometheus rules, checked statically (no Grafana, no running Prometheus).

Every query must read metrics the services export (or the DCGM/GKE metrics of the panels marked
external, or recording rules of the rules file); promtool must accept the rules and every dashboard
query; alerts must follow the `<signal> <op> <number>` convention the live test relies on. The
second half tests the PromQL helpers in `tests/promql.py` themselves.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from seedrl.common.metrics import CATALOGUE
from tests.promql import (
    EXPORTED_NAMES,
    EXTERNAL_METRICS,
    Query,
    alert_signal,
    dashboard_queries,
    duration_seconds,
    grafana_to_promql,
    is_external,
    metric_names,
    panels,
    recording_rule_names,
    rule_queries,
    series_names,
    split_comparison,
    variable_selector,
)

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "helm/seedrl/dashboards/seedrl.json"
RULES = ROOT / "helm/seedrl/rules/seedrl.rules.yaml"

ROWS = [
    "Throughput", "Returns", "Losses", "Inference", "Queues", "Actors", "Checkpoints", "Processes", "Controller",
    "GPU", "TPU",
]
EXTERNAL_ROWS = {"GPU", "TPU"}
ALERTS = {
    "SeedrlLearnerDown", "SeedrlNoFrames", "SeedrlCheckpointStale", "SeedrlActorsCrashLooping",
    "SeedrlInferenceLatencyHigh", "SeedrlCheckpointFailing",
}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
ALWAYS_THERE = {"up"}  # Prometheus's own per-target series


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def load_rules() -> list[dict[str, Any]]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def recorded() -> set[str]:
    return {rule["record"] for rule in load_rules() if "record" in rule}


def alerts() -> list[dict[str, Any]]:
    return [rule for rule in load_rules() if "alert" in rule]


def all_queries() -> list[Query]:
    return dashboard_queries(DASHBOARD) + rule_queries(RULES)


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run promtool; fail (not skip) when it is missing, since CI must check the rules."""
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool not found: install it with `apt-get install prometheus` (Debian/Ubuntu)")
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)


def datasources(node: Any) -> list[Any]:
    """Every `datasource` value anywhere in a JSON tree."""
    if isinstance(node, dict):
        own = [node["datasource"]] if "datasource" in node else []
        return own + [found for value in node.values() for found in datasources(value)]
    if isinstance(node, list):
        return [found for value in node for found in datasources(value)]
    return []


# The dashboard.


def test_dashboard_is_importable_json_with_its_identity():
    dashboard = load_dashboard()
    assert (dashboard["uid"], dashboard["title"]) == ("seedrl", "seedrl")
    assert 36 <= dashboard["schemaVersion"] <= 41
    assert dashboard["id"] is None  # Grafana assigns one on import


def test_no_datasource_uid_is_hard_coded():
    builtin_annotations = {"type": "grafana", "uid": "-- Grafana --"}
    assert all(ds in (DATASOURCE, builtin_annotations) for ds in datasources(load_dashboard()))


def test_the_three_variables():
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    assert list(variables) == ["datasource", "namespace", "experiment"]
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    namespace, experiment = variables["namespace"], variables["experiment"]
    assert namespace["definition"] == "label_values(seedrl_env_frames_total, namespace)"
    assert experiment["definition"] == 'label_values(seedrl_env_frames_total{namespace=~"$namespace"}, experiment)'
    for variable in (namespace, experiment):
        assert (variable["type"], variable["includeAll"], variable["allValue"]) == ("query", True, ".*")
        assert variable["query"]["query"] == variable["definition"]
        assert variable["datasource"] == DATASOURCE
    assert experiment["multi"] is True


def test_every_panel_and_target_uses_the_datasource_variable():
    for _, panel in panels(load_dashboard()):
        if panel["type"] != "row":
            assert panel["datasource"] == DATASOURCE, panel["title"]
            assert panel["targets"], panel["title"]
            assert all(target["datasource"] == DATASOURCE for target in panel["targets"]), panel["title"]


def test_panels_have_titles_and_unique_ids():
    found = [panel for _, panel in panels(load_dashboard())]
    assert all(panel.get("title") for panel in found)
    ids = [panel["id"] for panel in found]
    assert len(ids) == len(set(ids))


def test_rows_in_order():
    assert [panel["title"] for _, panel in panels(load_dashboard()) if panel["type"] == "row"] == ROWS


def test_exactly_the_gpu_and_tpu_panels_are_external():
    for row, panel in panels(load_dashboard()):
        if panel["type"] != "row":
            assert is_external(panel) == (row in EXTERNAL_ROWS), panel["title"]


def test_rates_use_the_rate_interval():
    for query in dashboard_queries(DASHBOARD):
        assert set(re.findall(r"\[[^\]]*\]", query.expr)) <= {"[$__rate_interval]"}, query.source


def test_replay_panels_show_size_memory_and_traffic():
    queried = {name for query in dashboard_queries(DASHBOARD) for name in metric_names(query.expr)}
    assert {"seedrl_replay_size", "seedrl_replay_bytes", "seedrl_replay_inserted_unrolls",
            "seedrl_replay_sampled_unrolls"} <= queried


def test_dashboard_queries_are_valid_promql(tmp_path):
    rules = [
        {"record": f"dashboard:query_{index}:check", "expr": grafana_to_promql(query.expr)}
        for index, query in enumerate(dashboard_queries(DASHBOARD))
    ]
    path = tmp_path / "dashboard.rules.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# Metric names, in the dashboard and the rules.


@pytest.mark.parametrize("query", all_queries(), ids=lambda query: query.source)
def test_queries_read_exported_metrics(query: Query):
    external = EXTERNAL_METRICS if query.external else frozenset()
    assert metric_names(query.expr) <= {spec.name for spec in CATALOGUE} | ALWAYS_THERE | external
    assert series_names(query.expr) <= set(EXPORTED_NAMES) | ALWAYS_THERE | external  # `_total` etc. not forgotten
    assert recording_rule_names(query.expr) <= recorded() | external
    assert metric_names(query.expr) | recording_rule_names(query.expr), "reads no metric"


def test_external_panels_read_only_external_metrics():
    for query in dashboard_queries(DASHBOARD):
        names = series_names(query.expr) | recording_rule_names(query.expr)
        assert bool(names & EXTERNAL_METRICS) == query.external, query.source


# The rules.


def test_promtool_accepts_the_rules():
    result = promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_exist():
    assert {rule["alert"] for rule in alerts()} == ALERTS


def test_recording_rule_names():
    assert all(re.fullmatch(r"seedrl:[a-z0-9_]+:[a-z0-9_]+", name) for name in recorded())


@pytest.mark.parametrize("rule", alerts(), ids=lambda rule: rule["alert"])
def test_alert_shape(rule: dict[str, Any]):
    split_comparison(rule["expr"])  # `<signal> <op> <number>`, or ValueError
    duration_seconds(rule["for"])
    assert rule["labels"]["severity"] in {"critical", "warning", "info"}
    for annotation in ("summary", "description"):
        assert "{{ $labels.experiment }}" in rule["annotations"][annotation]


def test_alerts_fire_when_they_should(tmp_path):
    """promtool's rule unit tests on synthetic series: each alert fires on its failure and not before."""
    learner = 'experiment="exp", role="learner", instance="l:1", job="seedrl"'
    controller = 'experiment="exp", role="controller", instance="c:1", job="seedrl"'
    tests = f"""
    rule_files: [rules.yaml]
    evaluation_interval: 1m
    tests:
      - interval: 1m
        input_series:
          - series: 'up{{{learner}}}'
            values: '1x20 0x10'
          - series: 'seedrl_env_frames_total{{{learner}}}'
            values: '0+100x5 500x30'
          - series: 'seedrl_process_start_time_seconds{{{learner}}}'
            values: '0x40'
          - series: 'seedrl_process_restarts_total{{{controller}, process="actor"}}'
            values: '0x3 1 2 3 4x20'  # a fourth restart at 7m
          - series: 'seedrl_checkpoint_failures_total{{{learner}}}'
            values: '0x11 1x30'  # a write fails at 12m
        alert_rule_test:
          - {{eval_time: 14m, alertname: SeedrlNoFrames, exp_alerts: []}}
          - eval_time: 20m
            alertname: SeedrlNoFrames
            exp_alerts: [{{exp_labels: {{severity: warning, experiment: exp}}}}]
          - {{eval_time: 20m, alertname: SeedrlLearnerDown, exp_alerts: []}}
          - eval_time: 24m
            alertname: SeedrlLearnerDown
            exp_alerts: [{{exp_labels: {{severity: critical, experiment: exp, role: learner, instance: "l:1", job: seedrl}}}}]
          - {{eval_time: 7m, alertname: SeedrlActorsCrashLooping, exp_alerts: []}}
          - eval_time: 8m
            alertname: SeedrlActorsCrashLooping
            exp_alerts: [{{exp_labels: {{severity: warning, experiment: exp}}}}]
          - {{eval_time: 12m, alertname: SeedrlCheckpointFailing, exp_alerts: []}}
          - eval_time: 14m
            alertname: SeedrlCheckpointFailing
            exp_alerts: [{{exp_labels: {{severity: warning, experiment: exp}}}}]
          - {{eval_time: 29m, alertname: SeedrlCheckpointFailing, exp_alerts: []}}
      - interval: 5m
        input_series:
          - series: 'seedrl_process_start_time_seconds{{{learner}}}'
            values: '3000x30'  # started at 50 min, long after its restored checkpoint
          - series: 'seedrl_last_checkpoint_timestamp_seconds{{{learner}}}'
            values: '600x30'
        alert_rule_test:
          - {{eval_time: 115m, alertname: SeedrlCheckpointStale, exp_alerts: []}}
          - eval_time: 125m
            alertname: SeedrlCheckpointStale
            exp_alerts: [{{exp_labels: {{severity: warning, experiment: exp}}}}]
    """
    path = tmp_path / "alerts.test.yaml"
    path.write_text(textwrap.dedent(tests))
    # promtool compares annotations exactly; this checks when alerts fire, not their wording.
    bare = [{**rule, "annotations": {}} if "alert" in rule else rule for rule in load_rules()]
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": [{"name": "seedrl", "rules": bare}]}))
    result = promtool("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# The PromQL helpers.

LATENCY_P99 = (
    'histogram_quantile(0.99, sum by (le) '
    '(rate(seedrl_inference_latency_seconds_bucket{experiment=~"$experiment"}[$__rate_interval])))'
)


def test_grafana_variables_become_promql():
    expr = 'rate(x{namespace=~"$namespace", experiment=~"${experiment}", a=~"${b:regex}"}[$__rate_interval])'
    assert grafana_to_promql(expr) == 'rate(x{namespace=~".*", experiment=~".*", a=~".*"}[30s])'
    assert grafana_to_promql("increase(x[$__range]) / $__range_s", "1m") == "increase(x[1m]) / 60"
    assert grafana_to_promql("x[${__interval}] offset $__interval_ms", "2s") == "x[2s] offset 2000"
    untouched = 'label_replace(up, "a", "$1", "b", "(.*)$")'  # regex groups and anchors are no variables
    assert grafana_to_promql(untouched) == untouched


def test_durations():
    assert duration_seconds("30s") == 30
    assert duration_seconds("1h30m") == 5400
    with pytest.raises(ValueError):
        duration_seconds("1.5m")


@pytest.mark.parametrize(
    ("expr", "signal", "op", "threshold"),
    [
        (LATENCY_P99 + " > 0.05", LATENCY_P99, ">", 0.05),
        ('up{role="learner"} == 0', 'up{role="learner"}', "==", 0),
        ("(a > 1 and on (x) (b == 1)) == 0", "(a > 1 and on (x) (b == 1))", "==", 0),
        ('a{x=">", y!="<="} >= -1e3', 'a{x=">", y!="<="}', ">=", -1000),
        ("a > 5 < 10", "a > 5", "<", 10),
        ("sum(x[5m:1m]) != 0x10  # hex", "sum(x[5m:1m])", "!=", 16),
        ("time() - max(a) <= 3600", "time() - max(a)", "<=", 3600),
    ],
)
def test_split_comparison(expr: str, signal: str, op: str, threshold: float):
    comparison = split_comparison(expr)
    assert (comparison.signal, comparison.op, comparison.threshold) == (signal, op, threshold)
    assert alert_signal(expr) == signal


@pytest.mark.parametrize(
    "expr",
    ["a > bool 0", "a and b > 0", "a > b", "a > 0 and b", "rate(a[5m] > 1)", 'a{x="> 1"}', "> 1", "a > vector(1)"],
)
def test_split_comparison_refuses_other_shapes(expr: str):
    with pytest.raises(ValueError):
        alert_signal(expr)


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        (LATENCY_P99, {"seedrl_inference_latency_seconds"}),
        ("a > bool 0", {"a"}),
        (
            'sum by (experiment) (rate(seedrl_env_frames_total{role="learner"}[5m])) '
            "/ on (experiment) group_left sum without (role) (seedrl_env_slots_leased)",
            {"seedrl_env_frames", "seedrl_env_slots_leased"},
        ),
        ("time() - max(seedrl_last_checkpoint_timestamp_seconds offset 5m) > 1e3", {"seedrl_last_checkpoint_timestamp_seconds"}),
        ("seedrl:env_frames:rate5m and on (namespace) (up == 1)", {"up"}),
        ('label_replace(up, "dst", "$1", "src", "seedrl_fake_(.*)")', {"up"}),
        ('{__name__="seedrl_loss", component="total"}', {"seedrl_loss"}),
        ("foo_total + seedrl_loss_count + seedrl_policy_lag_steps_count", {"foo_total", "seedrl_loss_count", "seedrl_policy_lag_steps"}),
        ("topk(3, sum by (reason) (increase(seedrl_rejected_messages_total[1h]))) # by reason", {"seedrl_rejected_messages"}),
        ("vector(0) or on() absent(nope) * Inf", {"nope"}),
    ],
)
def test_metric_names(expr: str, names: set[str]):
    assert metric_names(expr) == names


def test_series_and_recording_rule_names():
    expr = "seedrl:env_frames:rate5m / sum(rate(seedrl_env_frames_total[5m]))"
    assert series_names(expr) == {"seedrl_env_frames_total"}
    assert recording_rule_names(expr) == {"seedrl:env_frames:rate5m"}


def test_variable_selectors():
    assert variable_selector('label_values(m{a="x,y", b=~"$b"}, experiment)') == 'm{a="x,y", b=~"$b"}'
    assert variable_selector("label_values(m, namespace)") == "m"
    assert variable_selector("query_result(topk(5, m))") == "topk(5, m)"
    assert variable_selector("label_values(namespace)") is None
    assert variable_selector("label_names()") is None


def test_queries_of_a_dashboard_and_rules(tmp_path):
    dashboard = {
        "templating": {"list": [
            {"name": "ds", "type": "datasource", "query": "prometheus"},
            {"name": "ns", "type": "query", "query": "label_values(m, namespace)"},
            {"name": "exp", "type": "query", "query": {"query": 'label_values(m{namespace=~"$ns"}, experiment)'}},
        ]},
        "panels": [
            {"type": "timeseries", "title": "Loose", "targets": [{"refId": "A", "expr": "a"}]},
            {"type": "row", "title": "Open", "panels": []},
            {"type": "timeseries", "title": "Two", "targets": [{"refId": "A", "expr": "b"}, {"refId": "B", "expr": "c"}]},
            {"type": "row", "title": "Shut", "collapsed": True, "panels": [
                {"type": "timeseries", "title": "GPU", "description": "needs the DCGM exporter",
                 "targets": [{"refId": "A", "expr": "d"}]},
            ]},
        ],
    }
    (tmp_path / "d.json").write_text(json.dumps(dashboard))
    assert dashboard_queries(tmp_path / "d.json") == [
        Query("variable: ns", "m"),
        Query("variable: exp", 'm{namespace=~"$ns"}'),
        Query("dashboard: Loose", "a"),
        Query("dashboard: Open / Two [A]", "b"),
        Query("dashboard: Open / Two [B]", "c"),
        Query("dashboard: Shut / GPU", "d", external=True),
    ]
    rules = {"groups": [{"name": "g", "rules": [{"record": "r:x:y", "expr": "sum(x)"}, {"alert": "A", "expr": "r:x:y > 1"}]}]}
    (tmp_path / "r.yaml").write_text(yaml.safe_dump(rules))
    assert rule_queries(tmp_path / "r.yaml") == [Query("record: r:x:y", "sum(x)"), Query("alert: A", "r:x:y > 1")]
