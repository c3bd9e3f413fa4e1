"""Pull every PromQL expression out of seedrl's Grafana dashboard and Prometheus rules, and take them apart.

Test support: the static tests check each query's metric names against the metrics catalogue and
the alerts' shape; the live test runs each query against a Prometheus scraping a real run. The
parsing here is lexical (strings, comments and brackets are tracked, nothing more), which is enough
for the expressions we write and keeps the module free of a PromQL parser dependency.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import yaml

from seedrl.common.metrics import CATALOGUE

# Panels whose description says one of these query metrics that seedrl does not export.
EXTERNAL_MARKERS = ("needs the DCGM exporter", "needs GKE TPU metrics")
# The metrics those panels may use: NVIDIA's DCGM exporter, and GKE system metrics as Google Cloud
# Managed Service for Prometheus names them (kubernetes.io/container/accelerator/duty_cycle ->
# kubernetes_io:container_accelerator_duty_cycle).
EXTERNAL_METRICS = frozenset({
    "DCGM_FI_DEV_GPU_UTIL",
    "DCGM_FI_DEV_FB_USED",
    "kubernetes_io:container_accelerator_tensorcore_utilization",
    "kubernetes_io:container_accelerator_duty_cycle",
})

# Every series name the services export, mapped to its catalogue name.
EXPORTED_NAMES = {series: spec.name for spec in CATALOGUE for series in spec.series}

_KEYWORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
    "atan2", "offset", "inf", "nan",
    # Aggregations, which may stand apart from their parenthesis: `sum by (le) (...)`.
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
    "quantile", "limitk", "limit_ratio",
})
_GROUPING = re.compile(r"(?<![\w:])(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.I)
_IDENTIFIER = re.compile(r"(?<![\w.:])([A-Za-z_:][\w:]*)(?![\w:])(?!\s*\()")
_NAME_MATCHER = re.compile(r"""__name__\s*=\s*(["'`])([\w:]+)\1""")
_COMPARISON = re.compile(r"==|!=|>=|<=|>|<")
_SET_OPERATOR = re.compile(r"(?<![\w:])(?:and|or|unless)(?![\w:])", re.I)
_NUMBER = re.compile(r"[+-]?(?:0x[0-9a-f]+|inf|nan|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)", re.I)
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::[^}]*)?\}|\$([A-Za-z_]\w*)")
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_VARIABLE_QUERY = re.compile(r"\s*(label_values|query_result)\((.*)\)\s*", re.S)


@dataclass(frozen=True)
class Query:
    """One PromQL expression, where it comes from, and whether it needs an exporter seedrl doesn't ship."""

    source: str
    expr: str
    external: bool = False


@dataclass(frozen=True)
class Comparison:
    """An expression of the form `<signal> <op> <threshold>`."""

    signal: str
    op: str
    threshold: float


def dashboard_queries(path: Path | str) -> list[Query]:
    """Every query of a Grafana dashboard: its query variables' selectors, then its panels' targets."""
    dashboard = json.loads(Path(path).read_text())
    return [*_variable_queries(dashboard), *_panel_queries(dashboard)]


def rule_queries(path: Path | str) -> list[Query]:
    """The expression of every recording rule and alert in a Prometheus rule file."""
    document = yaml.safe_load(Path(path).read_text())
    return [
        Query(f"alert: {rule['alert']}" if "alert" in rule else f"record: {rule['record']}", str(rule["expr"]))
        for group in document["groups"]
        for rule in group["rules"]
    ]


def panels(dashboard: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every panel, rows included (collapsed rows hold theirs), with the title of the row it sits in."""
    row = ""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            row = panel.get("title", "")
            yield row, panel
            yield from ((row, inner) for inner in panel.get("panels", []))
        else:
            yield row, panel


def is_external(panel: dict[str, Any]) -> bool:
    """Whether a panel's description marks it as needing an exporter seedrl doesn't ship."""
    return any(marker in panel.get("description", "") for marker in EXTERNAL_MARKERS)


def variable_selector(query: str) -> str | None:
    """The PromQL inside a Grafana variable query: `label_values(sel, label)` -> `sel`, `query_result(q)` -> `q`.

    None for queries without one (`label_values(label)`, `label_names()`, `metrics(...)`).
    """
    match = _VARIABLE_QUERY.fullmatch(query)
    if match is None:
        return None
    function, inside = match.groups()
    if function == "query_result":
        return inside.strip()
    arguments = _split_top_level(inside, ",")
    return arguments[0].strip() if len(arguments) == 2 else None


def grafana_to_promql(expr: str, rate_interval: str = "30s") -> str:
    """`expr` with Grafana's variables replaced so that Prometheus accepts it.

    `$__rate_interval`, `$__interval` and `$__range` become `rate_interval` (and their `_s`/`_ms`
    forms the matching number); any other `$name` or `${name}` / `${name:format}` becomes `.*`, the
    "All" value of seedrl's regex variables.
    """
    seconds = duration_seconds(rate_interval)
    builtins = {
        "__rate_interval": rate_interval, "__interval": rate_interval, "__range": rate_interval,
        "__interval_ms": f"{seconds * 1000:.0f}", "__range_s": f"{seconds:.0f}", "__range_ms": f"{seconds * 1000:.0f}",
    }
    return _VARIABLE.sub(lambda match: builtins.get(match.group(1) or match.group(2), ".*"), expr)


def duration_seconds(duration: str) -> float:
    """Seconds in a Prometheus duration such as `30s`, `5m` or `1h30m`."""
    parts = _DURATION.findall(duration)
    if not parts or "".join(number + unit for number, unit in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    return sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts)


def split_comparison(expr: str) -> Comparison:
    """Split `<signal> <op> <number>` at its top-level comparison.

    Comparisons inside parentheses, brackets, braces, strings or comments don't count. Raises
    ValueError when the expression has another shape: no top-level comparison, something other
    than a number on the right, a `bool` modifier (an alert with it would always fire), or an
    `and`/`or`/`unless` at the top level (they bind looser than the comparison).
    """
    top = _blank(expr, nested=True)
    comparisons = list(_COMPARISON.finditer(top))
    if not comparisons:
        raise ValueError(f"no top-level comparison in {expr!r}")
    last = comparisons[-1]
    signal, right = expr[: last.start()].strip(), top[last.end():].strip()
    if _SET_OPERATOR.search(top[: last.start()]):
        raise ValueError(f"and/or/unless bind looser than the comparison in {expr!r}: parenthesize the signal")
    if right.lower().startswith("bool"):
        raise ValueError(f"a bool comparison never filters, so an alert on it always fires: {expr!r}")
    if not signal or not _NUMBER.fullmatch(right):
        raise ValueError(f"expected `<signal> {last.group()} <number>`, got {expr!r}")
    threshold = float.fromhex(right) if "x" in right.lower() else float(right)
    return Comparison(signal, last.group(), threshold)


def alert_signal(expr: str) -> str:
    """The signal of an alert expression `<signal> <op> <number>` (see `split_comparison`)."""
    return split_comparison(expr).signal


def metric_names(expr: str) -> set[str]:
    """Catalogue names of the metrics `expr` reads: `_total` is stripped from the catalogue's counters
    and `_bucket`/`_sum`/`_count` from its histograms; other names are kept as they are."""
    return {EXPORTED_NAMES.get(name, name) for name in series_names(expr)}


def series_names(expr: str) -> set[str]:
    """Metric names as `expr` spells them, without recording-rule names (those with a colon)."""
    return {name for name in _names(expr) if ":" not in name}


def recording_rule_names(expr: str) -> set[str]:
    """Names with a colon that `expr` reads: recording rules (or Cloud Monitoring metrics in PromQL)."""
    return {name for name in _names(expr) if ":" in name}


def _names(expr: str) -> set[str]:
    """Every metric name `expr` reads; function names, keywords, labels, strings and durations are skipped."""
    text = grafana_to_promql(expr)
    named = {match.group(2) for match in _NAME_MATCHER.finditer(_blank(text, nested=False, keep_strings=True))}
    text = _blank(text, nested=False)
    text = re.sub(r"\{[^{}]*\}|\[[^\[\]]*\]", " ", text)
    text = _GROUPING.sub(" ", text)
    found = {match.group(1) for match in _IDENTIFIER.finditer(text)}
    return named | {name for name in found if name.lower() not in _KEYWORDS}


def _variable_queries(dashboard: dict[str, Any]) -> Iterator[Query]:
    """The selectors of the dashboard's query variables."""
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query", "")
        selector = variable_selector(query.get("query", "") if isinstance(query, dict) else query)
        if selector:
            yield Query(f"variable: {variable['name']}", selector)


def _panel_queries(dashboard: dict[str, Any]) -> Iterator[Query]:
    """The targets of every panel, named `dashboard: <row> / <panel>` (plus ` [refId]` when it has several)."""
    for row, panel in panels(dashboard):
        targets = [target for target in panel.get("targets", []) if target.get("expr")]
        for target in targets:
            source = "dashboard: " + " / ".join(part for part in (row, panel.get("title", "")) if part)
            if len(targets) > 1:
                source += f" [{target.get('refId', '?')}]"
            yield Query(source, target["expr"], is_external(panel))


def _split_top_level(text: str, separator: str) -> list[str]:
    """`text` split at each `separator` that is outside brackets and strings."""
    top = _blank(text, nested=True)
    cuts = [index for index, char in enumerate(top) if char == separator]
    bounds = [-1, *cuts, len(text)]
    return [text[start + 1 : end] for start, end in zip(bounds, bounds[1:])]


def _blank(expr: str, nested: bool, keep_strings: bool = False) -> str:
    """`expr`, same length, with comments blanked and (unless `keep_strings`) the insides of strings.

    With `nested`, everything inside brackets is blanked too (the outermost brackets stay), so that
    what is left is the expression's top level.
    """
    out: list[str] = []
    depth, quote, escaped, comment = 0, "", False, False
    for char in expr:
        hidden = nested and depth > 0
        if comment:
            comment = char != "\n"
            out.append(" " if comment else char)
        elif quote:
            closing = not escaped and char == quote
            escaped = not escaped and char == "\\" and quote != "`"
            quote = "" if closing else quote
            out.append(" " if hidden or not (closing or keep_strings) else char)
        elif char in "\"'`":
            quote = char
            out.append(" " if hidden else char)
        elif char == "#":
            comment = True
            out.append(" ")
        elif char in "([{":
            depth += 1
            out.append(" " if hidden else char)
        elif char in ")]}":
            depth = max(depth - 1, 0)
            out.append(" " if nested and depth > 0 else char)
        else:
            out.append(" " if hidden else char)
    return "".join(out)
