"""The REST API's contract against a real controller process: validation, errors, auth, listing, metrics, fuzzing.

This controller may not start runs (`--max-active-experiments 0`), so that fuzzed
requests cannot launch dozens of learners; the lifecycle tests start real runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from prometheus_client.parser import text_string_to_metric_families

from seedrl.spec.experiment import ExperimentSpec
from tests.integration.controller import start_controller
from tests.integration.helpers import wait_for
from tests.specs import spec_bodies

pytestmark = pytest.mark.integration

TOKEN = "test-token-0123456789"
API = "/api/v1/experiments"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def controller(tmp_path_factory):
    controller = start_controller(tmp_path_factory.mktemp("controller"), TOKEN, "--max-active-experiments", "0")
    yield controller
    controller.stop()


@pytest.fixture
def api(controller):
    with controller.client() as client:
        yield client


def spec(name: str, **fields) -> dict:
    return {"name": name, "env": "gym:CartPole-v1", "actors": 1, "envs_per_actor": 4, **fields}


TPU = {"accelerator": "tpu-v5-lite-podslice", "topology": "2x2"}
INVALID_FIELDS = [
    ({"name": "Bad_Name"}, "name"),
    ({"name": "a" * 41}, "name"),
    ({"name": "../../etc"}, "name"),
    ({"name": "1st-run"}, "name"),  # its learner's Service name would not be an RFC 1035 label
    ({"env": "gym:NoSuchEnv-v0"}, "env"),
    ({"env": "../../etc/passwd"}, "env"),
    ({"env": "nofamily:CartPole-v1"}, "env"),
    ({"actors": -1}, "actors"),
    ({"actors": 1025}, "actors"),
    ({"envs_per_actor": 0}, "envs_per_actor"),
    ({"actors": 300, "envs_per_actor": 16}, "envs_per_actor"),  # 4800 slots > inference.max_slots
    ({"streams_per_actor": 65}, "streams_per_actor"),
    ({"total_frames": 0}, "total_frames"),
    ({"seed": -3}, "seed"),
    ({"agent": "dqn"}, "agent"),
    ({"agent": "sac"}, "agent"),  # CartPole's actions are discrete
    ({"env": "gym:Pendulum-v1", "agent": "r2d2"}, "agent"),
    ({"vtrace": {"discount": 1.5}}, "vtrace.discount"),
    ({"vtrace": {"learning_rate": 0}}, "vtrace.learning_rate"),
    ({"network": {"hidden_sizes": [0]}}, "network.hidden_sizes"),
    ({"network": {"torso": "resnet50"}}, "network.torso"),
    ({"vtrace": {"no_such_knob": 1}}, "vtrace.no_such_knob"),
    ({"inference": {"max_wait_ms": -1}}, "inference.max_wait_ms"),
    ({"checkpoint": {"keep": 0}}, "checkpoint.keep"),
    ({"resources": {"learner": {"memory": "lots"}}}, "resources.learner.memory"),
    ({"resources": {"learner": {"cpu": "-1"}}}, "resources.learner.cpu"),
    ({"resources": {"learner": {"gpu": 1, "tpu": TPU}}}, "resources.learner.tpu"),
    ({"resources": {"learner": {"gpu_type": "nvidia-l4"}}}, "resources.learner.gpu_type"),
    ({"resources": {"learner": {"tpu": {**TPU, "topology": "2x2x2x2"}}}}, "resources.learner.tpu.topology"),
    ({"resume_from": "../../etc/passwd"}, "resume_from"),
    ({"resume_from": "ckpt-5"}, "resume_from"),  # well-formed, but there is no such checkpoint
    ({"unknown_field": 1}, "unknown_field"),
    ({"actors": True}, "actors"),  # no coercion: JSON's types as they are
    ({"actors": "3"}, "actors"),
    ({"vtrace": {"learning_rate": "0.1"}}, "vtrace.learning_rate"),
    ({"r2d2": {"replay": {"capacity": 757}}}, "r2d2.replay.min_fill"),  # the default min_fill (1000) is judged too
    ({"env": "dmlab:a/../../../tmp/evil"}, "env"),
    ({"env": "dmlab:explore_goal_locations_small", "env_options": {"level_cache_dir": "/tmp/evil"}}, "env_options"),
    ({"actors": 64}, "actors"),  # 65 processes: over this controller's bound for one experiment
    ({"network": {"hidden_sizes": [65536] * 8}}, "network"),  # ~360 GB of weights
    ({"checkpoint": {"every_s": 1e-300}}, "checkpoint.every_s"),
]


@pytest.mark.parametrize(("fields", "field"), INVALID_FIELDS, ids=[f for _, f in INVALID_FIELDS])
def test_every_invalid_spec_field_gets_422_naming_the_field(api, fields, field):
    response = api.post(API, json={**spec("bad"), **fields})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["status"] == 422 and problem["title"] == "Unprocessable Entity"
    assert field in [error["field"] for error in problem["errors"]], problem
    assert api.get(f"{API}/bad").status_code == 404  # nothing was stored


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(body=spec_bodies())
def test_a_generated_spec_is_refused_or_round_trips_through_the_store_and_the_list(controller, body):
    """Specs drawn from the models: each one is refused with 422, or what the API stored is what it lists."""
    body = {**body, "name": f"gen-{body['name']}"}
    with controller.client() as api:
        api.delete(f"{API}/{body['name']}")
        created = api.post(API, json=body)
        assert created.status_code in (201, 422), created.text
        if created.status_code == 422:
            assert created.json()["errors"] and api.get(f"{API}/{body['name']}").status_code == 404
            return
        stored = created.json()["spec"]
        listed = {item["name"]: item for item in api.get(API, params={"limit": 500}).json()["items"]}
        assert listed[body["name"]]["spec"] == stored == api.get(f"{API}/{body['name']}").json()["spec"]
        assert listed[body["name"]]["status"]["phase"] == "Pending"
        assert ExperimentSpec.model_validate(stored).model_dump(mode="json") == stored
        assert api.delete(f"{API}/{body['name']}").status_code == 204


def test_a_body_that_is_not_json_gets_422(api):
    response = api.post(API, content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


def test_a_query_parameter_the_route_does_not_take_is_refused_naming_it(api):
    """A misspelt option is refused, not ignored: the experiment is still there after a DELETE with `forse`."""
    assert api.post(API, json=spec("typo")).status_code == 201
    for method, path, params in [
        ("DELETE", f"{API}/typo", {"forse": "true"}), ("GET", API, {"phase": "Pending", "pahse": "x"}),
        ("GET", "/healthz", {"verbose": "1"}), ("POST", f"{API}/typo/start", {"wait": "1"}),
    ]:
        response = api.request(method, path, params=params)
        assert response.status_code == 422 and response.headers["content-type"] == PROBLEM, (path, response.text)
        fields = [error["field"] for error in response.json()["errors"]]
        assert fields == [f"query.{name}" for name in params if name not in ("phase",)], fields
    assert api.get(f"{API}/typo").status_code == 200 and api.get(API, params={"phase": "Pending"}).status_code == 200
    assert api.delete(f"{API}/typo").status_code == 204


def test_the_published_schema_is_the_experiment_spec(api):
    assert api.get("/api/v1/experiment-spec/schema").json() == ExperimentSpec.model_json_schema()
    openapi = api.get("/openapi.json").json()
    assert "ExperimentSpec" in openapi["components"]["schemas"]
    assert api.get("/docs").status_code == 200


def test_unknown_experiments_and_checkpoints_are_404(api):
    for method, path in [
        ("GET", f"{API}/nope"), ("POST", f"{API}/nope/stop"), ("POST", f"{API}/nope/start"),
        ("DELETE", f"{API}/nope"), ("GET", f"{API}/nope/checkpoints"), ("GET", f"{API}/nope/metrics"),
    ]:
        response = api.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert "nope" in response.json()["detail"]
    assert api.post(f"{API}/nope/scale", json={"actors": 2}).status_code == 404
    assert api.post(API, json=spec("has-no-checkpoints")).status_code == 201
    assert api.get(f"{API}/has-no-checkpoints/checkpoints/ckpt-3").status_code == 404
    assert api.get(f"{API}/has-no-checkpoints/checkpoints").json() == {"items": []}


def test_conflicting_operations_are_409(api):
    assert api.post(API, json=spec("twice")).status_code == 201
    duplicate = api.post(API, json=spec("twice"))
    assert duplicate.status_code == 409 and "exists" in duplicate.json()["detail"]
    not_running = api.post(f"{API}/twice/stop")
    assert not_running.status_code == 409 and "not running" in not_running.json()["detail"]
    over_quota = api.post(f"{API}/twice/start")  # this controller runs at most 0 experiments
    assert over_quota.status_code == 409 and "max-active-experiments" in over_quota.json()["detail"]
    assert api.post(API, params={"start": "true"}, json=spec("started")).status_code == 409
    assert api.get(f"{API}/started").status_code == 404  # refused whole: nothing was stored
    assert api.get(f"{API}/twice").json()["status"]["phase"] == "Pending"


def test_scaling_beyond_the_learner_slots_is_422_and_changes_nothing(api):
    assert api.post(API, json=spec("scaled", envs_per_actor=16)).status_code == 201
    assert api.post(f"{API}/scaled/scale", json={"actors": 3}).json()["spec"]["actors"] == 3
    too_many = api.post(f"{API}/scaled/scale", json={"actors": 1000})
    assert too_many.status_code == 422 and too_many.json()["errors"][0]["field"] == "actors"
    assert api.get(f"{API}/scaled").json()["spec"]["actors"] == 3


def test_writes_need_the_token_and_reads_are_open(controller, api):
    with httpx.Client(base_url=controller.url) as anonymous:
        missing = anonymous.post(API, json=spec("anon"))
        assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
        assert "token" in missing.json()["detail"]
        assert anonymous.delete(f"{API}/twice").status_code == 401
        assert anonymous.get(API).status_code == 200
        # The token is checked before the body is read: no token learns nothing about validation.
        assert anonymous.post(API, content=b"{not json", headers={"content-type": "application/json"}).status_code == 401
    with controller.client(token="wrong-token") as wrong:
        forbidden = wrong.post(API, json=spec("anon"))
        assert forbidden.status_code == 403 and forbidden.headers["content-type"] == PROBLEM
    assert api.get(f"{API}/anon").status_code == 404


def test_protected_reads_need_the_token_too(tmp_path):
    controller = start_controller(tmp_path, TOKEN, "--protect-reads", "--max-active-experiments", "0")
    try:
        assert httpx.get(f"{controller.url}{API}").status_code == 401
        with controller.client() as api:
            assert api.get(API).status_code == 200
        assert httpx.get(f"{controller.url}/healthz").status_code == 200  # probes stay open
    finally:
        controller.stop()


def test_listing_pages_and_filters_by_phase(api):
    names = [f"page-{i}" for i in range(5)]
    for name in names:
        assert api.post(API, json=spec(name)).status_code == 201
    everything = api.get(API, params={"limit": 500}).json()
    listed = [item["name"] for item in everything["items"] if item["name"].startswith("page-")]
    assert listed == names  # creation order
    offset = [item["name"] for item in everything["items"]].index("page-0")
    page = api.get(API, params={"limit": 2, "offset": offset + 2}).json()
    assert [item["name"] for item in page["items"]] == ["page-2", "page-3"]
    assert page["total"] == everything["total"] and page["limit"] == 2
    assert api.get(API, params={"phase": "Running"}).json()["total"] == 0
    pending = api.get(API, params={"phase": "Pending", "limit": 500}).json()
    assert set(names) <= {item["name"] for item in pending["items"]}
    bad = api.get(API, params={"phase": "Sleeping"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "query.phase"
    assert api.get(API, params={"limit": 0}).status_code == 422


def test_controller_metrics_count_requests_by_route_and_experiments_by_phase(api):
    api.get(f"{API}/missing-one")
    samples = [
        sample for family in text_string_to_metric_families(api.get("/metrics").text) for sample in family.samples
    ]
    requests = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in samples if s.name == "seedrl_controller_api_requests_total"
    }
    assert requests[("/api/v1/experiments/{name}", "GET", "404")] >= 1
    assert all("missing-one" not in route for route, _, _ in requests)  # route templates, not names
    pending = api.get(API, params={"phase": "Pending"}).json()["total"]

    def gauge() -> float:
        text = api.get("/metrics").text
        return next(s.value for f in text_string_to_metric_families(text) for s in f.samples
                    if s.name == "seedrl_controller_experiments" and s.labels["phase"] == "Pending")

    wait_for(lambda: gauge() == pending, 10, what="the phase gauge")  # refreshed by the reconcile loop
    assert api.get("/healthz").json() == {"status": "ok"}
    assert api.get("/readyz").status_code == 200


# pydantic's messages for input the schema itself refuses; a 422 for schema-valid input must name a rule instead.
SCHEMA_REFUSALS = re.compile(r"^(Input|String|List|Tuple|Object|Dictionary) should|^Field required|^Extra inputs")


def positive_data_refused_only_by_rules(ctx, response, case):
    """positive_data_acceptance, where a 422 is accepted when it names a rule the schema cannot state
    (cross-field rules, installed envs, this controller's bounds), never a type or a schema constraint."""
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return schemathesis.checks.CHECKS.get_by_names(["positive_data_acceptance"])[0](ctx, response, case)
    reasons = [error["reason"] for error in response.json().get("errors", [])]
    assert reasons and not any(SCHEMA_REFUSALS.search(reason) for reason in reasons), reasons
    return None


def no_server_internals(data_dir: Path):
    def check(ctx, response, case):
        """No body names a path of the server or carries a traceback."""
        text = response.text
        for secret in (str(data_dir.resolve()), "Traceback (most recent call last)", "site-packages", "/services/"):
            assert secret not in text, f"the response carries {secret!r}: {text[:300]}"
        return None

    return check


@pytest.mark.slow
def test_a_schema_driven_fuzz_with_every_check_finds_no_failure(controller, api):
    """Every operation of the published OpenAPI, with valid and invalid inputs, against the live server, with
    every check schemathesis has: no 5xx, every status and media type documented, every body conforming to
    its schema, invalid input refused, valid input accepted (or refused naming a rule), auth not ignored,
    unsupported methods answered 405 with Allow; and no body carries a traceback or a server path."""
    assert api.post(API, json=spec("fuzzed")).status_code == 201
    schema = schemathesis.openapi.from_url(f"{controller.url}/openapi.json")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    schemathesis.checks.load_all_checks()
    checks = [check for check in schemathesis.checks.CHECKS.get_all()
              if check.__name__ != "positive_data_acceptance"] + [positive_data_refused_only_by_rules]
    assert len(checks) >= 14
    extra = [no_server_internals(controller.data_dir)]
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in schemathesis.GenerationMode:
            strategies = [operation.as_strategy(mode)]
            if "{name}" in operation.path and mode is schemathesis.GenerationMode.POSITIVE:
                strategies.append(operation.as_strategy(mode, path_parameters={"name": "fuzzed"}))
            for strategy in strategies:

                @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
                @given(strategy)
                def call(case):
                    try:
                        case.call_and_validate(base_url=controller.url, headers=headers, timeout=30, checks=checks,
                                               additional_checks=extra)
                    except Exception as failure:  # noqa: BLE001 - every check's failure is collected
                        failures.append(f"{case.method} {case.formatted_path} "
                                        f"{json.dumps(case.body, default=str)[:200]}: {str(failure)[:600]}")

                try:
                    call()
                except Unsatisfiable:  # an operation with no input to make invalid
                    assert mode is schemathesis.GenerationMode.NEGATIVE, operation.path
    assert not failures, f"{len(failures)} failures:\n" + "\n".join(failures[:10])
    assert api.get("/healthz").status_code == 200
