"""A real Prometheus scrapes a live local run and the controller; every dashboard and rule query returns data.

Prometheus (the Debian package `prometheus`, which `make test` installs) discovers the
learner and actors through the controller's `/api/v1/scrape-targets` (HTTP service
discovery), evaluates the rule file, and answers every PromQL expression of the
Grafana dashboard and the rules through its HTTP API. GPU and TPU panels query
exporters that cannot run here (DCGM, GKE's TPU metrics) and are the only ones left
out. `promtool check metrics` lints what each service exports.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml

from seedrl.common import metrics as m
from seedrl.common.ports import free_port
from tests.integration.controller import Controller, start_controller
from tests.integration.helpers import wait_for
from tests.promql import Query, alert_signal, dashboard_queries, grafana_to_promql, rule_queries

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "helm/seedrl/dashboards/seedrl.json"
RULES = ROOT / "helm/seedrl/rules/seedrl.rules.yaml"
SCRAPE_INTERVAL_S = 1
RATE_INTERVAL = "15s"  # Grafana's $__rate_interval at a 1 s scrape interval would be 4 s; a wider window is steadier
EXPERIMENT = {
    "name": "observed", "env": "gym:CartPole-v1", "actors": 2, "envs_per_actor": 8, "eval_envs": 2,
    "total_frames": 50_000_000, "checkpoint": {"every_s": 3},
}


def prometheus_binaries() -> tuple[str, str]:
    found = shutil.which("prometheus"), shutil.which("promtool")
    if None in found:
        pytest.fail("Prometheus is needed: apt-get install prometheus (make test does it)")
    return found


class Prometheus:
    """A Prometheus server on loopback with its own config and storage under `folder`."""

    def __init__(self, folder: Path, controller: Controller):
        binary, _ = prometheus_binaries()
        self.url = f"http://127.0.0.1:{free_port()}"
        config = {
            "global": {"scrape_interval": f"{SCRAPE_INTERVAL_S}s", "evaluation_interval": f"{SCRAPE_INTERVAL_S}s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {"job_name": "seedrl", "honor_labels": True,
                 "http_sd_configs": [{"url": f"{controller.url}/api/v1/scrape-targets", "refresh_interval": "1s"}]},
                {"job_name": "seedrl-controller", "honor_labels": True,
                 "static_configs": [{"targets": [controller.url.removeprefix("http://")], "labels": {"role": "controller"}}]},
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = folder / "prometheus.log"
        with open(self.log, "wb") as output:
            self.process = subprocess.Popen(
                [binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder / 'data'}",
                 f"--web.listen-address={self.url.removeprefix('http://')}"],
                stdout=output, stderr=subprocess.STDOUT,
            )
        wait_for(self._ready, 60, what="prometheus ready")

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited: {self.log.read_text()[-3000:]}")
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def query(self, expr: str) -> list[dict]:
        """An instant query's result vector; raises with Prometheus's error for an invalid expression."""
        body = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        if body["status"] != "success":
            raise AssertionError(f"{expr}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]["result"] if body["data"]["resultType"] == "vector" else [body["data"]["result"]]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


@pytest.fixture(scope="module")
def observed_run(tmp_path_factory):
    """A controller running one V-trace CartPole experiment (with evaluation envs), scraped by Prometheus."""
    prometheus_binaries()
    folder = tmp_path_factory.mktemp("observed")
    controller = start_controller(folder / "controller")
    prometheus = None
    try:
        with controller.client() as api:
            assert api.post("/api/v1/experiments", params={"start": "true"}, json=EXPERIMENT).status_code == 201
            prometheus = Prometheus(folder, controller)
            wait_for(lambda: api.get("/api/v1/experiments/observed").json()["status"]["latest_checkpoint"], 120,
                     what="a checkpoint")
        up = lambda: {r["metric"]["role"] for r in prometheus.query("up == 1")}  # noqa: E731
        wait_for(lambda: up() >= {"learner", "actor", "controller"}, 60, what="every role scraped")
        wait_for(lambda: prometheus.query("seedrl_eval_episodes_total > 0"), 60, what="an evaluation episode")
        time.sleep(5)  # a few more scrapes, so that every rate() window holds several samples
        yield prometheus, controller
    finally:
        with controller.client() as api:
            api.post("/api/v1/experiments/observed/stop")
            wait_for(lambda: api.get("/api/v1/experiments/observed").json()["status"]["phase"] == "Stopped", 120,
                     what="the experiment stopped")
        controller.stop()
        if prometheus is not None:
            prometheus.stop()


def queries() -> list[Query]:
    return dashboard_queries(DASHBOARD) + rule_queries(RULES)


def test_every_dashboard_and_rule_query_returns_data_from_a_live_run(observed_run):
    prometheus, _ = observed_run
    live = [q for q in queries() if not q.external]
    assert len(live) >= 30 and any(q.external for q in queries())  # GPU and TPU panels are the exceptions
    empty: dict[str, str] = {}
    deadline = time.monotonic() + 60  # a quantile or a ratio can need one more scrape
    for query in live:
        expr = grafana_to_promql(query.expr, rate_interval=RATE_INTERVAL)
        signal = alert_signal(expr) if query.source.startswith("alert:") else expr
        prometheus.query(expr)  # valid PromQL, even where an alert's condition is false
        while not prometheus.query(signal) and time.monotonic() < deadline:
            time.sleep(SCRAPE_INTERVAL_S)
        if not prometheus.query(signal):
            empty[query.source] = signal
    assert not empty, f"queries with no data: {empty}"


def test_every_catalogue_metric_is_exported_by_some_service(observed_run):
    prometheus, _ = observed_run
    exported = {r["metric"]["__name__"] for r in prometheus.query('group by (__name__) ({__name__=~"seedrl_.+"})')}
    missing = sorted(spec.series[0] for spec in m.CATALOGUE if spec.series[0] not in exported)
    assert not missing, f"catalogue metrics no service exported: {missing}"
    unknown = {name for name in exported if not any(name.startswith(spec.name) for spec in m.CATALOGUE)}
    assert not unknown, f"exported but not in the catalogue: {unknown}"


def test_no_series_carries_an_unbounded_label(observed_run):
    prometheus, _ = observed_run
    labels = {label for r in prometheus.query('{__name__=~"seedrl_.+"}') for label in r["metric"]}
    allowed = {"__name__", "experiment", "role", "instance", "job", "le"} | {l for s in m.CATALOGUE for l in s.labels}
    assert labels <= allowed, f"unexpected labels: {labels - allowed}"


def test_promtool_accepts_what_every_service_exports(observed_run):
    prometheus, controller = observed_run
    _, promtool = prometheus_binaries()
    targets = httpx.get(f"{prometheus.url}/api/v1/targets", timeout=10).json()["data"]["activeTargets"]
    roles = {}
    for target in targets:
        roles.setdefault(target["labels"]["role"], target["scrapeUrl"])
    assert set(roles) == {"learner", "actor", "controller"}
    for role, url in roles.items():
        text = httpx.get(url, timeout=10).text
        lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
        assert lint.returncode == 0, f"{role}: {lint.stdout}{lint.stderr}"

