"""The catalogue of seedrl's Prometheus metrics and a per-process registry for them.

Every metric a service exports is declared here once, with its type, unit and help,
so that dashboards and docs can be checked against one list. Every metric carries the
labels `experiment` and `role`; a few add one bounded label (never env or actor ids).
Counters are exported with the `_total` suffix that Prometheus expects.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from typing import Iterator, Literal

import prometheus_client as prom
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

COMMON_LABELS = ("experiment", "role")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048)
LAG_BUCKETS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
SERIES_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
SAVE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True)
class MetricSpec:
    """One metric: its name (without `_total`), type, unit, help, extra labels and the role exporting it."""

    name: str
    kind: Literal["counter", "gauge", "histogram"]
    unit: str
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] | None = None
    role: Literal["learner", "actor", "controller", "every process"] = "learner"

    @property
    def series(self) -> tuple[str, ...]:
        """The names Prometheus stores: `_total` on counters, `_bucket`/`_sum`/`_count` on histograms."""
        return tuple(self.name + suffix for suffix in SERIES_SUFFIXES[self.kind])


# Learner.
ENV_FRAMES = MetricSpec("seedrl_env_frames", "counter", "frames", "Environment frames received by the learner (agent steps x frame skip).")
ENV_FPS = MetricSpec("seedrl_env_frames_per_second", "gauge", "frames/s", "Environment frames per second over the last few seconds.")
LEARNER_STEPS = MetricSpec("seedrl_learner_steps", "counter", "steps", "Gradient steps taken by the learner.")
EPISODES = MetricSpec("seedrl_episodes", "counter", "episodes", "Episodes finished, as seen by the learner.")
EPISODE_RETURN = MetricSpec("seedrl_episode_return_mean", "gauge", "reward", "Mean return of the last 100 finished episodes.")
EPISODE_LENGTH = MetricSpec("seedrl_episode_length_mean", "gauge", "steps", "Mean length of the last 100 finished episodes.")
EVAL_EPISODES = MetricSpec("seedrl_eval_episodes", "counter", "episodes", "Episodes finished by evaluation envs (greedy policy, not trained on).")
EVAL_RETURN = MetricSpec("seedrl_eval_episode_return_mean", "gauge", "reward", "Mean return of the last 100 evaluation episodes.")
LOSS = MetricSpec("seedrl_loss", "gauge", "loss", "Training loss of the last learner step, by component.", labels=("component",))
GRAD_NORM = MetricSpec("seedrl_gradient_norm", "gauge", "norm", "Global gradient norm of the last learner step, before clipping.")
LEARNING_RATE = MetricSpec("seedrl_learning_rate", "gauge", "rate", "Learning rate of the last learner step.")
INFERENCE_BATCH = MetricSpec("seedrl_inference_batch_size", "histogram", "envs", "Environments served by one batched inference call.", buckets=BATCH_BUCKETS)
INFERENCE_LATENCY = MetricSpec("seedrl_inference_latency_seconds", "histogram", "seconds", "Time from a batch's flush to its actions being ready.", buckets=LATENCY_BUCKETS)
POLICY_LAG = MetricSpec("seedrl_policy_lag_steps", "histogram", "steps", "Learner steps between acting and training on an unroll.", buckets=LAG_BUCKETS)
UNROLL_QUEUE = MetricSpec("seedrl_unroll_queue_depth", "gauge", "unrolls", "Finished unrolls waiting for the training thread.")
REPLAY_SIZE = MetricSpec("seedrl_replay_size", "gauge", "unrolls", "Unrolls held by the replay (replay agents; 0 for on-policy agents).")
REPLAY_BYTES = MetricSpec("seedrl_replay_bytes", "gauge", "bytes", "Memory of the unrolls held by the replay, priorities included.")
REPLAY_INSERTS = MetricSpec("seedrl_replay_inserted_unrolls", "counter", "unrolls", "Unrolls inserted into the replay.")
REPLAY_SAMPLES = MetricSpec("seedrl_replay_sampled_unrolls", "counter", "unrolls", "Unrolls sampled from the replay for training (with repeats).")
CONNECTED_STREAMS = MetricSpec("seedrl_connected_actors", "gauge", "streams", "Actor streams currently connected to the learner.")
LEASED_SLOTS = MetricSpec("seedrl_env_slots_leased", "gauge", "slots", "Env slots leased to connected actor streams.")
REJECTED_MESSAGES = MetricSpec("seedrl_rejected_messages", "counter", "messages", "Actor messages refused by the learner, by reason.", labels=("reason",))
UNAUTHENTICATED_CALLS = MetricSpec(
    "seedrl_unauthenticated_calls", "counter", "calls",
    "Calls refused by the learner before it read any message: no secret presented (missing) or a wrong one (wrong).",
    labels=("reason",),
)
CLIPPED_VALUES = MetricSpec(
    "seedrl_clipped_values", "counter", "values",
    "Values in actor messages clipped to their bound (rewards to +-1e6, observations to their space's bounds), by field.",
    labels=("field",),
)
CHECKPOINTS = MetricSpec("seedrl_checkpoint_saves", "counter", "checkpoints", "Checkpoints written.")
CHECKPOINT_FAILURES = MetricSpec("seedrl_checkpoint_failures", "counter", "checkpoints", "Checkpoint writes that failed (a full disk, an I/O error); training carries on.")
LAST_CHECKPOINT = MetricSpec("seedrl_last_checkpoint_timestamp_seconds", "gauge", "unix seconds", "When the newest checkpoint was written (or restored from); 0 before any.")
LEARNER_DEVICES = MetricSpec(
    "seedrl_learner_devices", "gauge", "devices", "The learner's device plan: 1 per device, by use (inference, training "
    "or shared) and device name.", labels=("use", "device"),
)
WEIGHT_REFRESH_DURATION = MetricSpec(
    "seedrl_weight_refresh_duration_seconds", "histogram", "seconds",
    "Time to copy the trained weights to one inference device (separate inference devices only).", buckets=SAVE_BUCKETS,
)
CHECKPOINT_DURATION = MetricSpec("seedrl_checkpoint_duration_seconds", "histogram", "seconds", "Time to write one checkpoint.", buckets=SAVE_BUCKETS)

# Actor.
ACTOR_ENV_STEPS = MetricSpec("seedrl_actor_env_steps", "counter", "steps", "Environment steps taken by this actor.", role="actor")
ACTOR_EPISODES = MetricSpec("seedrl_actor_episodes", "counter", "episodes", "Episodes finished by this actor.", role="actor")
ACTOR_ROUND_TRIP = MetricSpec("seedrl_actor_round_trip_seconds", "histogram", "seconds", "From sending a step batch to receiving its actions.", buckets=LATENCY_BUCKETS, role="actor")
ACTOR_RECONNECTS = MetricSpec("seedrl_actor_reconnects", "counter", "connections", "Times this actor lost its learner stream and connected again.", role="actor")

# Controller (the `experiment` label is empty: these describe the controller itself).
CONTROLLER_EXPERIMENTS = MetricSpec("seedrl_controller_experiments", "gauge", "experiments", "Experiments known to the controller, by phase.", labels=("phase",), role="controller")
CONTROLLER_REQUESTS = MetricSpec("seedrl_controller_api_requests", "counter", "requests", "REST API requests, by route template, method and status code.", labels=("route", "method", "status"), role="controller")
CONTROLLER_REQUEST_LATENCY = MetricSpec("seedrl_controller_api_request_seconds", "histogram", "seconds", "REST API request handling time, by route template.", labels=("route",), buckets=LATENCY_BUCKETS, role="controller")
CONTROLLER_RECONCILE_ERRORS = MetricSpec("seedrl_controller_reconcile_errors", "counter", "errors", "Reconcile passes over an experiment that raised an error.", role="controller")
PROCESS_RESTARTS = MetricSpec(
    "seedrl_process_restarts", "counter", "restarts",
    "Learner and actor processes the runtime restarted after they died, by process kind (role is the runtime's).",
    labels=("process",), role="controller",
)

# Every process (exported by `ProcessCollector`, not set by hand).
PROCESS_CPU = MetricSpec("seedrl_process_cpu_seconds", "counter", "seconds", "CPU time (user + system) used by this process.", role="every process")
PROCESS_MEMORY = MetricSpec("seedrl_process_resident_memory_bytes", "gauge", "bytes", "Resident memory of this process.", role="every process")
PROCESS_START = MetricSpec("seedrl_process_start_time_seconds", "gauge", "unix seconds", "When this process started.", role="every process")

CATALOGUE: tuple[MetricSpec, ...] = tuple(v for v in list(globals().values()) if isinstance(v, MetricSpec))
COLLECTED = (PROCESS_CPU, PROCESS_MEMORY, PROCESS_START)  # exported by ProcessCollector only

_TYPES = {"counter": prom.Counter, "gauge": prom.Gauge, "histogram": prom.Histogram}


def resident_memory_bytes() -> int:
    """This process's resident set size: /proc on Linux, the peak from getrusage elsewhere."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class ProcessCollector(Collector):
    """CPU time, resident memory and start time of this process, labelled like every seedrl metric."""

    def __init__(self, labels: dict[str, str]):
        self._names, self._values = list(labels), list(labels.values())
        self._started = time.time()

    def _family(self, spec: MetricSpec, value: float) -> Metric:
        family_type = CounterMetricFamily if spec.kind == "counter" else GaugeMetricFamily
        family = family_type(spec.name, spec.help, labels=self._names)
        family.add_metric(self._values, value)
        return family

    def collect(self) -> Iterator[Metric]:
        yield self._family(PROCESS_CPU, time.process_time())
        yield self._family(PROCESS_MEMORY, resident_memory_bytes())
        yield self._family(PROCESS_START, self._started)


class Metrics:
    """The catalogue's metrics for one process, bound to its experiment and role.

    Each process gets its own registry, so tests can run several services in one
    interpreter without their series mixing; the registry also carries the
    process's CPU, memory and start time.
    """

    def __init__(self, experiment: str, role: str, registry: prom.CollectorRegistry | None = None):
        self.registry = registry if registry is not None else prom.CollectorRegistry()
        self._bound = {"experiment": experiment, "role": role}
        self._families: dict[str, prom.metrics.MetricWrapperBase] = {}
        self.registry.register(ProcessCollector(self._bound))

    def __call__(self, spec: MetricSpec, experiment: str | None = None, **labels: str):
        """The series of `spec` for this process (plus `labels`, which must be spec.labels).

        `experiment` overrides the bound experiment, for a service (the controller) that
        reports on several experiments.
        """
        if set(labels) != set(spec.labels):
            raise ValueError(f"{spec.name} takes labels {spec.labels}, got {tuple(labels)}")
        if spec in COLLECTED:
            raise ValueError(f"{spec.name} is exported by ProcessCollector, not set by hand")
        family = self._families.get(spec.name)
        if family is None:
            kwargs = {"buckets": spec.buckets} if spec.buckets else {}
            family = _TYPES[spec.kind](
                spec.name, spec.help, labelnames=COMMON_LABELS + spec.labels, registry=self.registry, **kwargs
            )
            self._families[spec.name] = family
        bound = self._bound if experiment is None else {**self._bound, "experiment": experiment}
        return family.labels(**bound, **labels)

    def serve(self, port: int, host: str = "0.0.0.0") -> int:
        """Serve `/metrics` over HTTP on `port` (0 picks a free one); returns the port."""
        server, _ = prom.start_http_server(port, addr=host, registry=self.registry)
        return server.server_port
