"""deploy/prometheus and deploy/grafana: the rules and configs pass promtool, and every metric a rule or
dashboard names is one a service really exports (read from prometheus_client's registry)."""

from __future__ import annotations

import functools
import importlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from prometheus_client.metrics import MetricWrapperBase

from safetynet_core.settings import REPO_ROOT

PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
RULES_DIR = PROMETHEUS / "rules"
RULE_FILES = sorted(RULES_DIR.glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
DASHBOARDS = sorted((REPO_ROOT / "deploy" / "grafana" / "dashboards").glob("*.json"))
METRIC_MODULES = (
    "safetynet_intake.metrics",
    "safetynet_risk.metrics",
    "safetynet_workflow.metrics",
    "safetynet_notify.metrics",
    "safetynet_core.metrics",
    "safetynet_core.kafka",
)
# Series Prometheus itself adds per target, with the labels our scrape configs give them.
SCRAPE_SERIES = {"up": {"job", "instance", "component"}}
TARGET_LABELS = {"job", "instance", "component"}

SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "stateset": ("",),
    "enum": ("",),
    "unknown": ("",),
}
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "offset",
                "bool", "atan2", "inf", "nan"}
GRAFANA_VARIABLES = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1d"}


# ---------------------------------------------------------------------------------------- helpers
def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not on PATH: run `sudo bash deploy/local/tools.sh` (installs Debian's "
                    "`prometheus` package; `make test` runs it)")
    return path


def _run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([_promtool(), *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=60)


def _rules() -> Iterator[dict[str, Any]]:
    for path in RULE_FILES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            yield from group["rules"]


def _dashboards() -> dict[str, dict[str, Any]]:
    return {path.name: json.loads(path.read_text()) for path in DASHBOARDS}


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def _dashboard_exprs() -> list[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every query target."""
    return [(name, panel["title"], target["expr"])
            for name, dashboard in _dashboards().items()
            for panel in _panels(dashboard) if panel.get("type") != "row"
            for target in panel.get("targets", [])]


def _all_exprs() -> list[tuple[str, str]]:
    """(where, expr) for every rule and every dashboard query."""
    exprs = [(f"rule {rule.get('alert') or rule.get('record')}", str(rule["expr"])) for rule in _rules()]
    exprs += [(f"{name}: {title}", expr) for name, title, expr in _dashboard_exprs()]
    return exprs


def _exported() -> tuple[dict[str, str], dict[str, set[str]], dict[str, set[str]]]:
    """Sample names the services export → base name; base name → label names; histogram → `le` values."""
    for module in METRIC_MODULES:
        importlib.import_module(module)
    samples: dict[str, str] = {}
    buckets: dict[str, set[str]] = {}
    for metric in REGISTRY.collect():
        for suffix in SUFFIXES.get(metric.type, ("",)):
            samples[metric.name + suffix] = metric.name
        for sample in metric.samples:  # unlabelled metrics have samples; their names win
            samples.setdefault(sample.name, metric.name)
            if sample.name.endswith("_bucket"):
                buckets.setdefault(metric.name, set()).add(sample.labels["le"])
    labels: dict[str, set[str]] = {}
    for module in METRIC_MODULES:
        for value in vars(importlib.import_module(module)).values():
            if isinstance(value, MetricWrapperBase):
                for name in REGISTRY._collector_to_names.get(value, ()):  # the registry's own index
                    labels[samples.get(name, name)] = set(value._labelnames)
    return samples, labels, buckets


def _strip(expr: str) -> str:
    """The expression without strings, range/subquery brackets, grouping clauses and comments."""
    expr = re.sub(r"#.*", " ", expr)
    expr = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    return re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: identifiers that are not functions, keywords or label names."""
    stripped = re.sub(r"\{[^}]*\}", " ", _strip(expr))
    names = set()
    for match in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)(?![\w:])(\s*\()?", stripped):
        if match.group(2) is None and match.group(1).lower() not in PROMQL_WORDS:
            names.add(match.group(1))
    return names


def selectors(expr: str) -> list[tuple[str, dict[str, str]]]:
    """`metric{label op "value", ...}` selectors in an expression: (metric, {label: value})."""
    expr = re.sub(r"#.*", " ", expr)
    found = []
    for match in re.finditer(r"(?<![\w:.$])([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        matchers = dict(re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', match.group(2)))
        found.append((match.group(1), matchers))
    return found


def grouping_labels(expr: str) -> set[str]:
    labels: set[str] = set()
    for clause in re.findall(r"\b(?:by|without)\s*\(([^)]*)\)", re.sub(r"#.*", " ", expr)):
        labels.update(label.strip() for label in clause.split(",") if label.strip())
    return labels


def test_metric_name_parser() -> None:
    expr = ('histogram_quantile(0.99, sum by (le, route) (rate(safetynet_http_request_duration_seconds_bucket'
            '{service="intake", route=~"/v1/(a|b)"}[$__rate_interval]))) / on (job) group_left up > bool 2 '
            'unless absent(up{job="x"}) and deriv(sum(foo:bar)[15m:1m]) offset 1h')
    assert metric_names(expr) == {"safetynet_http_request_duration_seconds_bucket", "up", "foo:bar"}
    assert selectors('a{x="1", y=~"b|c"} + b') == [("a", {"x": "1", "y": "b|c"})]
    assert grouping_labels("sum by (le, step) (x) / sum without(instance) (y)") == {"le", "step", "instance"}


# ---------------------------------------------------------------------------------------- promtool
def test_alert_rules_pass_promtool_check_rules() -> None:
    assert RULE_FILES, "no rule files under deploy/prometheus/rules/"
    result = _run("check", "rules", *map(str, RULE_FILES))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass() -> None:
    assert RULE_TESTS, "no promtool rule tests under deploy/prometheus/tests/"
    result = _run("test", "rules", *map(str, RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_local_scrape_config_passes_promtool_and_loads_every_rule_file() -> None:
    config = PROMETHEUS / "prometheus.local.yml"
    result = _run("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, result.stdout
    targets = {t for job in yaml.safe_load(config.read_text())["scrape_configs"]
               for sc in job["static_configs"] for t in sc["targets"]}
    assert {f"127.0.0.1:{port}" for port in (8001, 8002, 8003, 8004)} <= targets


def test_compose_scrape_config_passes_promtool_with_the_mounted_rules(tmp_path: Path) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert "./deploy/prometheus:/etc/prometheus:ro" in compose["services"]["prometheus"]["volumes"]
    # /etc/prometheus exists only in the container: check a copy that points at the repo's rules.
    config["rule_files"] = [str(RULES_DIR / "*.yml")]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))
    result = _run("check", "config", str(copy))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, result.stdout


def _relabel(labels: dict[str, str], rules: list[dict[str, Any]]) -> dict[str, str] | None:
    """Prometheus relabelling (replace and keep, the actions our configs use); None when a rule drops it."""
    labels = dict(labels)
    for rule in rules:
        value = rule.get("separator", ";").join(labels.get(name, "") for name in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        action = rule.get("action", "replace")
        if action == "keep":
            if not match:
                return None
        elif action == "replace":
            if match:
                replacement = re.sub(r"\$\{?(\d+)\}?", r"\\\1", rule.get("replacement", "$1"))
                labels[rule["target_label"]] = match.expand(replacement)
        else:
            raise AssertionError(f"relabel action {action} not simulated here")
    return labels


def _discovered_pods() -> list[dict[str, str]]:
    """The meta labels Kubernetes pod discovery gives each container port of the deploy/k8s Deployments."""
    sanitize = functools.partial(re.sub, r"[^a-zA-Z0-9_]", "_")
    pods = []
    for path in sorted((REPO_ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc or doc["kind"] != "Deployment":
                continue
            template = doc["spec"]["template"]
            meta = {"__meta_kubernetes_namespace": "safetynet"}
            meta |= {f"__meta_kubernetes_pod_label_{sanitize(k)}": v for k, v in template["metadata"]["labels"].items()}
            annotations = template["metadata"].get("annotations", {})
            meta |= {f"__meta_kubernetes_pod_annotation_{sanitize(k)}": str(v) for k, v in annotations.items()}
            ports = [p["containerPort"] for c in template["spec"]["containers"] for p in c.get("ports", [])]
            pods += [{**meta, "__address__": f"10.1.2.3:{port}" if port else "10.1.2.3"} for port in ports or [0]]
    return pods


def test_kubernetes_scrape_config_gives_the_labels_of_the_static_configs(tmp_path: Path) -> None:
    """Under Kubernetes the same `job` and `component` labels come out of pod discovery, so the rules (absent()
    included) hold; promtool here is built without Kubernetes discovery, so it checks the rest of the file
    with an empty static target list in its place."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.k8s.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    expected = {
        (job["job_name"], tuple(sorted(group["labels"].items())))
        for job in compose["scrape_configs"] if job["job_name"] == "safetynet" for group in job["static_configs"]
    }  # fmt: skip
    found = set()
    for pod in _discovered_pods():
        target = _relabel(pod, jobs["safetynet"]["relabel_configs"])
        if target is None:
            continue
        kept = {k: v for k, v in target.items() if not k.startswith("__")}
        found.add(("safetynet", tuple(sorted(kept.items()))))
        port = target["__address__"].rsplit(":", 1)[1]
        assert port == pod["__meta_kubernetes_pod_annotation_prometheus_io_port"], target
        assert target["__metrics_path__"] == "/metrics"
    assert found == expected
    for job in config["scrape_configs"]:
        job.pop("kubernetes_sd_configs")
        job["static_configs"] = [{"targets": []}]
    config["rule_files"] = [str(RULES_DIR / "*.yml")]
    copy = tmp_path / "prometheus.yml"
    copy.write_text(yaml.safe_dump(config))
    result = _run("check", "config", str(copy))
    assert result.returncode == 0, result.stdout + result.stderr


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """promtool has no offline query parser, so every dashboard query becomes a recording rule to check."""
    rules = []
    for i, (_, _, expr) in enumerate(_dashboard_exprs()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown Grafana variable in {expr}"
        rules.append({"record": f"dashboard:query:{i}", "expr": expr})
    path = tmp_path / "dashboards.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = _run("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------------------------------- metric names
def test_every_metric_in_rules_and_dashboards_is_exported_by_a_service() -> None:
    samples, _, _ = _exported()
    known = set(samples) | set(SCRAPE_SERIES)
    unknown = {f"{where}: {name}" for where, expr in _all_exprs() for name in metric_names(expr)
               if name not in known}
    assert not unknown, "metrics no service exports:\n" + "\n".join(sorted(unknown))
    used = {name for _, expr in _all_exprs() for name in metric_names(expr)}
    assert len(used) > 30, used  # the parser found real names, not nothing


def test_label_matchers_and_groupings_name_labels_the_metrics_have() -> None:
    samples, labels, buckets = _exported()
    problems = []
    for where, expr in _all_exprs():
        for metric, matchers in selectors(expr):
            base = samples.get(metric)
            allowed = SCRAPE_SERIES.get(metric) or labels.get(base or "", set()) | TARGET_LABELS
            if metric.endswith("_bucket"):
                allowed = allowed | {"le"}
            problems += [f"{where}: {metric} has no label {label}" for label in matchers if label not in allowed]
            if base in buckets and "le" in matchers and matchers["le"] not in buckets[base]:
                problems.append(f"{where}: {metric} has no bucket le={matchers['le']} ({sorted(buckets[base])})")
        every_label = set().union(*labels.values()) | TARGET_LABELS | {"le"}
        problems += [f"{where}: groups by unknown label {label}" for label in grouping_labels(expr)
                     if label not in every_label]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------------------------------- coverage
def test_alerts_cover_the_ops_requirements() -> None:
    exprs = {rule["alert"]: str(rule["expr"]) for rule in _rules() if "alert" in rule}
    for rule in _rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]

    def alerting_on(metric: str) -> set[str]:
        return {alert for alert, expr in exprs.items() if metric in metric_names(expr)}

    assert alerting_on("safetynet_risk_consumer_lag")
    assert {"WorkflowConsumerLagHigh", "WorkflowConsumerStalled", "NotifyConsumerLagHigh",
            "NotifyConsumerStalled"} <= set(exprs)
    assert alerting_on("safetynet_intake_outbox_oldest_age_seconds")
    assert alerting_on("safetynet_dead_letters_total")
    assert alerting_on("safetynet_workflow_identification_breaches_total")
    assert alerting_on("safetynet_workflow_escalations_total")
    assert any(re.search(r"\bup\{[^}]*\}\s*==\s*0", expr) for expr in exprs.values())


def test_dashboards_are_grafana_json_with_queries() -> None:
    dashboards = _dashboards()
    assert {"intake.json", "risk.json", "cases.json", "notify.json"} <= set(dashboards)
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids), uids
    for name, dashboard in dashboards.items():
        assert dashboard["title"] and 0 < len(dashboard["uid"]) <= 40, name
        panels = [p for p in _panels(dashboard) if p.get("type") != "row"]
        assert len(panels) >= 8, name
        ids = [p["id"] for p in _panels(dashboard)]
        assert len(set(ids)) == len(ids), f"{name}: duplicate panel ids"
        for panel in panels:
            assert panel["title"] and panel["targets"], f"{name}: {panel.get('title')}"
            assert all(t["expr"].strip() and t["refId"] for t in panel["targets"]), f"{name}: {panel['title']}"
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"]), f"{name}: {panel['title']}"
        variables = {v["name"] for v in dashboard["templating"]["list"]}
        assert "datasource" in variables, name


def test_grafana_provisioning_points_at_the_dashboards() -> None:
    grafana = REPO_ROOT / "deploy" / "grafana"
    provider = yaml.safe_load((grafana / "provisioning" / "dashboards" / "safetynet.yml").read_text())
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    mounts = dict(v.split(":")[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == provider["providers"][0]["options"]["path"]
