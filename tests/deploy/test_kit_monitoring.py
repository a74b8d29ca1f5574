"""The deploy kit's monitoring: Prometheus' alerts and configuration (``promtool``, Debian's), the
Grafana dashboard, and the PromQL of both and of the autoscalers. Every metric they name is one a
Haven started here with the shield on really exports on ``/metrics``."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from haven.app import create_app
from haven.db import migrate
from haven.web.cookies import PASS_COOKIE
from tests.conftest import make_settings
from tests.visitor import started

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana" / "haven.json"
KUBERNETES = DEPLOY / "kubernetes"

# Series Prometheus makes itself for every target, and the labels it (or the Operator's
# PodMonitor) adds to every series of a target: not Haven's to export.
PROMETHEUS_SERIES: Final = frozenset({"up"})
TARGET_LABELS: Final = frozenset({"job", "instance", "namespace", "pod"})
# The series of a family, by its type (a gauge's is its name).
SERIES_SUFFIXES: Final = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
# Grafana's own variables, as it would fill them in before sending a query.
GRAFANA_VARIABLES: Final = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


# PromQL: the names an expression uses --------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])
    | (?P<number>0[xX][0-9a-fA-F]+
        | (?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?      # a number
          (?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?  # a duration: 5m, 1h30m
      )
    | (?P<name>[A-Za-z_:][A-Za-z0-9_:]*)
    | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){},@])
    """,
    re.VERBOSE,
)
AGGREGATIONS: Final = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values", "bottomk", "topk",
     "quantile", "limitk", "limit_ratio"}
)  # fmt: skip
# Words that are never a metric: keywords, set operators, the numbers PromQL spells, and the
# modifiers that may come without their label list.
KEYWORDS: Final = frozenset(
    {"and", "or", "unless", "bool", "offset", "inf", "nan", "atan2", "group_left", "group_right"}
)
# Followed by a parenthesised list of label names, not an expression.
LABEL_LISTS: Final = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


@dataclass
class Names:
    """What one PromQL expression refers to."""

    metrics: set[str] = field(default_factory=set)
    matchers: set[tuple[str, str]] = field(default_factory=set)  # (metric, label) in a {selector}
    grouping: set[str] = field(default_factory=set)  # labels in by/without/on/ignoring/group_*


def tokens(expression: str) -> Iterator[tuple[str, str]]:
    position = 0
    while position < len(expression):
        match = _TOKEN.match(expression, position)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expression[position:]!r}")
        position = match.end()
        kind = match.lastgroup
        assert kind is not None
        if kind not in ("space", "comment"):
            yield kind, match.group()


def names(expression: str) -> Names:
    """The metric names, selector labels and grouping labels of ``expression``: a name followed by
    ``(`` is a function (an aggregation also when followed by by/without), words in strings,
    durations and label lists are not metrics. Unknown syntax is an error, never skipped."""
    found = Names()
    stream = list(tokens(expression))
    i = 0
    while i < len(stream):
        kind, text = stream[i]
        following = stream[i + 1][1] if i + 1 < len(stream) else ""
        if kind == "name" and text.lower() in LABEL_LISTS and following == "(":
            end = stream.index(("op", ")"), i)
            labels = [token for token_kind, token in stream[i + 2 : end] if token_kind == "name"]
            found.grouping.update(labels)
            i = end + 1
            continue
        aggregation = text in AGGREGATIONS and following.lower() in ("by", "without")
        if kind == "name" and (following == "(" or aggregation):
            i += 1  # a function or an aggregation
            continue
        if kind == "name" and text.lower() in KEYWORDS:
            i += 1
            continue
        if kind == "name":
            found.metrics.add(text)
            if following == "{":
                i = _selector(stream, i + 1, text, found)
                continue
        elif text == "{":  # a selector without a name: {__name__="..."}
            i = _selector(stream, i, None, found)
            continue
        i += 1
    return found


def _selector(stream: list[tuple[str, str]], start: int, metric: str | None, found: Names) -> int:
    """Read ``{label op "value", ...}`` from ``start`` (the brace); return the index after it."""
    i = start + 1
    while stream[i][1] != "}":
        (label_kind, label), (_, op), (value_kind, value) = stream[i : i + 3]
        assert (label_kind, value_kind) == ("name", "string"), stream[i : i + 3]
        assert op in ("=", "!=", "=~", "!~"), stream[i : i + 3]
        if label == "__name__" and op == "=":
            metric = value[1:-1]
            found.metrics.add(metric)
        else:
            found.matchers.add((metric or "", label))
        i += 3
        if stream[i][1] == ",":
            i += 1
    return i + 1


def test_names_leaves_out_functions_keywords_strings_durations_and_label_lists() -> None:
    expression = """
        # a comment naming not_a_metric
        sum by (reason) (rate(haven_shield_sheds_total{reason!="lag", worker=~"1.*"}[5m] offset 1h))
          / ignoring (reason) group_left
        sum without (worker) (increase(haven_http_requests_total[1h:5m] @ 1609746000))
        > bool 0.5e3 and on (instance) label_replace(up, "dst", "fake_metric", "src", "(.*)")
        or {__name__="haven_shield_queue_length", job="haven"} * -Inf + 0x1F
        unless max(haven_shield_pressure) by (instance) > 1h30m
    """
    found = names(expression)
    assert found.metrics == {
        "haven_shield_sheds_total",
        "haven_http_requests_total",
        "up",
        "haven_shield_queue_length",
        "haven_shield_pressure",
    }
    assert found.matchers == {
        ("haven_shield_sheds_total", "reason"),
        ("haven_shield_sheds_total", "worker"),
        ("haven_shield_queue_length", "job"),
    }
    assert found.grouping == {"reason", "worker", "instance"}


def test_names_refuses_what_it_cannot_read_rather_than_skipping_it() -> None:
    with pytest.raises(ValueError, match="cannot read PromQL"):
        names('sum(haven_http_requests_total) ; "')


# The expressions in deploy/ ------------------------------------------------------------------------


@dataclass(frozen=True)
class Expression:
    where: str
    promql: str


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(GRAFANA.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [panel for panel in dashboard()["panels"] if panel["type"] != "row"]


def for_prometheus(grafana_expression: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        grafana_expression = grafana_expression.replace(variable, value)
    assert "$__" not in grafana_expression, f"a Grafana variable unknown here: {grafana_expression}"
    return grafana_expression


def expressions() -> list[Expression]:
    """Every PromQL expression of the kit, and the series the alerts' unit tests feed in."""
    found = [Expression(f"alerts.yml {rule['alert']}", rule["expr"]) for rule in alert_rules()]
    for panel in panels():
        for target in panel["targets"]:
            found.append(Expression(f"haven.json {panel['title']}", for_prometheus(target["expr"])))
    for template in dashboard()["templating"]["list"]:
        if template["type"] == "query":
            query = re.fullmatch(r"label_values\((\w+), *(\w+)\)", template["query"]["query"])
            assert query, f"dashboard variable {template['name']}: {template['query']}"
            found.append(Expression(f"haven.json ${template['name']}", f'{query[1]}{{{query[2]}!=""}}'))
    (scaled,) = yaml.safe_load_all((KUBERNETES / "keda.yaml").read_text())
    for trigger in scaled["spec"]["triggers"]:
        found.append(Expression(f"keda.yaml {trigger['name']}", trigger["metadata"]["query"]))
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    for number, test in enumerate(tests, 1):
        for series in test["input_series"]:
            found.append(Expression(f"alerts.test.yml test {number}", series["series"]))
    return found


def external_metrics() -> list[Expression]:
    """The HPA's external metrics: prometheus-adapter serves them under the series' own name."""
    (hpa,) = yaml.safe_load_all((KUBERNETES / "hpa.yaml").read_text())
    return [
        Expression("hpa.yaml", metric["external"]["metric"]["name"])
        for metric in hpa["spec"]["metrics"]
        if metric["type"] == "External"
    ]


# What Haven exports -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    """The series names of a scrape (a counter's ``_total``, a histogram's ``_bucket``, ``_sum``
    and ``_count``) and the labels seen on each."""

    labels: dict[str, frozenset[str]]

    @classmethod
    def parse(cls, text: str) -> Exported:
        labels: dict[str, set[str]] = {}
        for family in text_string_to_metric_families(text):
            suffixes = SERIES_SUFFIXES.get(family.type, [""])
            base = family.name.removesuffix("_total")
            for suffix in suffixes:
                labels.setdefault(base + suffix, set())
            for sample in family.samples:
                labels.setdefault(sample.name, set()).update(sample.labels)
        return cls({name: frozenset(seen) for name, seen in labels.items()})

    def unknown(self, expression: Expression) -> list[str]:
        """What ``expression`` names that Haven does not export (or no label it has)."""
        found = names(expression.promql)
        problems = [
            f"{expression.where}: {metric} is not a metric Haven exports"
            for metric in sorted(found.metrics - self.labels.keys() - PROMETHEUS_SERIES)
        ]
        for metric, label in sorted(found.matchers):
            if label in TARGET_LABELS or metric in PROMETHEUS_SERIES or metric not in self.labels:
                continue
            if label not in self.labels[metric]:
                problems.append(f"{expression.where}: {metric} has no label {label!r}")
        every = set().union(*(self.labels.get(metric, set()) for metric in found.metrics))
        for label in sorted(found.grouping - every - TARGET_LABELS):
            problems.append(f"{expression.where}: no metric of the expression has a label {label!r}")
        return problems


async def scrape(var_dir: Path) -> str:
    """``/metrics`` of a started Haven (shield on, as it runs by default) after a few requests:
    a page, the ops endpoints, and a forged pass (so the labelled families have samples)."""
    settings = make_settings(var_dir)
    assert settings.shield
    await asyncio.to_thread(migrate, settings)
    app = create_app(settings)
    async with started(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://haven.test") as client:
            for path in ("/en/", "/healthz", "/readyz"):
                assert (await client.get(path)).status_code == 200, path
            await client.get("/en/account", headers={"cookie": f"{PASS_COOKIE}=forged"})
            response = await client.get("/metrics")
    assert response.status_code == 200
    return response.text


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    return Exported.parse(asyncio.run(scrape(tmp_path_factory.mktemp("scraped") / "var")))


def test_haven_exports_the_figures_the_kit_is_built_on(exported: Exported) -> None:
    for name in (
        "haven_shield_queue_length",
        "haven_shield_sheds_total",
        "haven_http_request_duration_seconds_bucket",
        "haven_http_requests_total",
        "haven_shield_store_degraded",
    ):
        assert name in exported.labels, name
    assert {"route", "status", "worker"} <= exported.labels["haven_http_requests_total"]
    assert "cookie" in exported.labels["haven_shield_refused_cookies_total"]


def test_every_metric_the_kit_queries_is_one_haven_exports(exported: Exported) -> None:
    everything = expressions() + external_metrics()
    assert len(everything) > 40, "the kit's expressions were not all found"
    assert [problem for expression in everything for problem in exported.unknown(expression)] == []


def test_the_check_catches_a_misspelt_metric_or_label(exported: Exported) -> None:
    assert exported.unknown(Expression("here", "max(haven_shield_queue_lenght)")) == [
        "here: haven_shield_queue_lenght is not a metric Haven exports"
    ]
    assert exported.unknown(Expression("here", 'sum(rate(haven_shield_sheds_total{reasons="lag"}[5m]))')) == [
        "here: haven_shield_sheds_total has no label 'reasons'"
    ]
    assert exported.unknown(Expression("here", "sum by (rout) (haven_http_requests_total)")) == [
        "here: no metric of the expression has a label 'rout'"
    ]
    # A counter is queried by its series' name, not its family's.
    assert exported.unknown(Expression("here", "rate(haven_shield_joins[5m])")) != []


# promtool -------------------------------------------------------------------------------------------


def promtool(*arguments: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: `scripts/ensure-system-deps promtool` installs Debian's prometheus")
    return subprocess.run([binary, *arguments], capture_output=True, text=True, timeout=60, check=False)


def test_promtool_accepts_the_alert_rules() -> None:
    result = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_the_alerts_fire_as_their_unit_tests_say() -> None:
    result = promtool("test", "rules", str(PROMETHEUS / "alerts.test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_unit_test_a_severity_and_a_summary() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test["alert_rule_test"] if case["exp_alerts"]}
    for rule in alert_rules():
        assert rule["alert"] in tested, f"{rule['alert']} never fires in alerts.test.yml"
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]


def test_promtool_accepts_the_scrape_configuration() -> None:
    result = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "alerts.yml" in yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())["rule_files"]


def recording_rules(tmp_path: Path, promql: list[str]) -> subprocess.CompletedProcess[str]:
    """``promql`` as recording rules in a throwaway file, for promtool to parse."""
    rules = [{"record": f"kit:expression_{number}", "expr": expr} for number, expr in enumerate(promql)]
    path = tmp_path / "expressions.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "kit", "rules": rules}]}))
    return promtool("check", "rules", str(path))


def test_promtool_parses_the_dashboards_and_the_autoscalers_queries(tmp_path: Path) -> None:
    queries = [expression.promql for expression in expressions() if not expression.where.startswith("alerts")]
    result = recording_rules(tmp_path, queries)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


def test_promtool_refuses_a_broken_expression(tmp_path: Path) -> None:
    assert recording_rules(tmp_path, ["sum(rate(haven_http_requests_total[5m])"]).returncode != 0


# Grafana -------------------------------------------------------------------------------------------


def test_the_dashboard_is_one_grafana_can_import() -> None:
    board = dashboard()
    assert board["uid"] == "haven"
    assert board["title"]
    variables = {template["name"]: template for template in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids are unique"
    taken: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        box = panel["gridPos"]
        assert box["x"] >= 0, panel["title"]
        assert box["x"] + box["w"] <= 24, panel["title"]
        cells = {(box["x"] + dx, box["y"] + dy) for dx in range(box["w"]) for dy in range(box["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        taken |= cells
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert refs, panel["title"]
        assert len(refs) == len(set(refs)), panel["title"]
        assert all(target["expr"].strip() for target in panel["targets"]), panel["title"]


def test_the_dashboard_shows_the_room_the_requests_and_the_stores() -> None:
    queries = [for_prometheus(target["expr"]) for panel in panels() for target in panel["targets"]]
    used = {metric for query in queries for metric in names(query).metrics}
    for metric in (
        "haven_shield_queue_length",  # people in line
        "haven_shield_admitted_total",  # admissions
        "haven_shield_joins_total",  # arrivals
        "haven_shield_pressure",
        "haven_shield_sheds_total",
        "haven_http_request_duration_seconds_bucket",  # latency p99
        "haven_http_requests_in_flight",
        "haven_shield_store_degraded",
        "haven_http_requests_total",  # /readyz's 503s: the database
    ):
        assert metric in used, metric
