"""The metrics catalogue: its generated docs, its labels and its per-process registry."""

from pathlib import Path

import prometheus_client as prom
import pytest

from seedrl.common import metrics as m
from seedrl.common.metrics_doc import render

ROOT = Path(__file__).resolve().parents[2]


def test_docs_metrics_md_is_generated_from_the_catalogue():
    assert (ROOT / "docs/metrics.md").read_text() == render(), "run: python -m seedrl.common.metrics_doc"


def test_every_metric_is_named_typed_and_labelled_within_bounds():
    names = [spec.name for spec in m.CATALOGUE]
    assert len(names) == len(set(names))
    for spec in m.CATALOGUE:
        assert spec.name.startswith("seedrl_") and not spec.name.endswith("_total") and spec.help.endswith(".")
        assert not {"env", "env_id", "actor", "actor_id", "pod", "instance"} & set(spec.labels)
        assert (spec.buckets is not None) == (spec.kind == "histogram")


def test_process_metrics_carry_the_bound_labels_and_cannot_be_set_by_hand():
    metrics = m.Metrics("exp", "actor")
    samples = {s.name: s for family in metrics.registry.collect() for s in family.samples}
    assert samples["seedrl_process_cpu_seconds_total"].labels == {"experiment": "exp", "role": "actor"}
    assert samples["seedrl_process_resident_memory_bytes"].value > 10 * 2**20  # a Python process holds more than 10 MiB
    with pytest.raises(ValueError, match="ProcessCollector"):
        metrics(m.PROCESS_MEMORY)


def test_a_service_reporting_on_several_experiments_overrides_the_bound_one():
    metrics = m.Metrics("", "controller")
    metrics(m.PROCESS_RESTARTS, experiment="a", process="actor").inc(2)
    text = prom.generate_latest(metrics.registry).decode()
    assert 'seedrl_process_restarts_total{experiment="a",process="actor",role="controller"} 2.0' in text
    with pytest.raises(ValueError, match="takes labels"):
        metrics(m.PROCESS_RESTARTS, experiment="a")
