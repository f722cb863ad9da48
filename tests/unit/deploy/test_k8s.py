"""deploy/k8s names only things the code has: modules and ports that exist, environment variables some
setting reads, probe paths the apps serve, selectors and targets that match (no cluster here to apply it)."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from pydantic_settings import BaseSettings
from typer.testing import CliRunner

from bench import capacity
from safetynet_cli.main import app as cli
from safetynet_core.settings import REPO_ROOT, CoreSettings
from tests.unit.deploy.settings_env import env_names, required_settings

K8S = REPO_ROOT / "deploy" / "k8s"
CONTRACT_PORTS = {"intake": 8001, "risk": 8002, "workflow": 8003, "notify": 8004}
CONSUMERS = {"risk", "workflow", "notify"}  # Deployments whose replicas share the topic partitions
PROBE_PATHS = {"/healthz", "/readyz"}
UVICORN = re.compile(r"^safetynet_(\w+)\.main:create_app$")


@functools.cache
def documents() -> tuple[dict[str, Any], ...]:
    """Every resource the kustomization lists (parsed once; read-only)."""
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    found: list[dict[str, Any]] = []
    for resource in kustomization["resources"]:
        found += [doc for doc in yaml.safe_load_all((K8S / resource).read_text()) if doc]
    return tuple(found)


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in documents() if doc["kind"] == kind}


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("Deployment", "Job"):
        for name, doc in of_kind(kind).items():
            yield name, doc["spec"]["template"]["spec"]


def containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, spec in pod_specs():
        for container in spec["containers"]:
            yield name, container


def service_of(container: dict[str, Any]) -> str | None:
    """The service a container runs (from its command), or None for the admin CLI."""
    command = container["command"]
    if command[0] == "uvicorn":
        match = UVICORN.match(command[command.index("--factory") + 1])
        assert match, command
        return match.group(1)
    if command[:2] == ["python", "-m"]:
        return command[2].split(".")[0].removeprefix("safetynet_")
    return None


def settings_of(service: str | None) -> type[BaseSettings]:
    if service is None:
        return CoreSettings
    settings: type[BaseSettings] = importlib.import_module(f"safetynet_{service}.settings").Settings
    return settings


def readme_secret_keys() -> dict[str, set[str]]:
    """Secret name → the keys README.md tells the operator to create."""
    text = (K8S / "README.md").read_text()
    keys: dict[str, set[str]] = {}
    for block in re.split(r"kubectl -n safetynet create secret generic ", text)[1:]:
        name = block.split()[0]
        keys[name] = set(re.findall(r"--from-literal=(\w+)=", block.split("```")[0]))
    return keys


def test_every_resource_parses_and_names_are_unique() -> None:
    docs = documents()
    assert {doc["kind"] for doc in docs} >= {"Namespace", "ConfigMap", "Job", "Deployment", "Service"}
    names = [(doc["kind"], doc["metadata"]["name"]) for doc in docs]
    assert len(names) == len(set(names))
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert {image["name"] for image in kustomization["images"]} == {c["image"] for _, c in containers()}


@pytest.mark.parametrize("version", ["1.28.0", kubernetes_validate.latest_version()])
def test_every_resource_matches_the_kubernetes_schema(version: str) -> None:
    """Strict (unknown fields are errors) against the schemas PyPI kubernetes-validate ships (no network)."""
    for doc in documents():
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{doc['kind']} {doc['metadata']['name']} (Kubernetes {version}): {exc.message}")


def test_each_service_runs_its_real_app_on_its_contract_port() -> None:
    served = {}
    for _, container in containers():
        service = service_of(container)
        command = container["command"]
        if command[0] == "uvicorn":
            port = int(command[command.index("--port") + 1])
            assert [p["containerPort"] for p in container["ports"]] == [port]
            assert service is not None and callable(importlib.import_module(f"safetynet_{service}.main").create_app)
            served[service] = port
        elif command[:2] == ["python", "-m"]:
            spec = importlib.util.find_spec(command[2])
            assert spec is not None and spec.origin is not None, command
            assert 'if __name__ == "__main__":' in Path(spec.origin).read_text()
    assert served == CONTRACT_PORTS


def test_probes_hit_paths_the_apps_serve() -> None:
    for name, container in containers():
        probes = [container[key] for key in ("readinessProbe", "livenessProbe") if key in container]
        if container["command"][0] == "uvicorn":
            assert len(probes) == 2, f"{name} needs readiness and liveness probes"
        for probe in probes:
            assert probe["httpGet"]["path"] in PROBE_PATHS
            assert probe["httpGet"]["port"] in {p["name"] for p in container["ports"]}


def test_migrate_job_runs_cli_commands_that_exist() -> None:
    (job,) = of_kind("Job").values()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    script = container["command"][-1]
    for step in script.split("&&"):
        words = step.split()
        assert words[0] == "safetynet"
        result = CliRunner().invoke(cli, [*words[1:], "--help"])
        assert result.exit_code == 0, result.output


def test_environment_variables_are_ones_the_settings_read() -> None:
    config = of_kind("ConfigMap")
    secrets = readme_secret_keys()
    shared_readers: dict[tuple[str, str], set[str]] = {}
    for name, container in containers():
        known = env_names(settings_of(service_of(container)))
        for variable in container.get("env", []):
            assert variable["name"] in known, f"{name} sets {variable['name']}, which no setting reads"
        for source in container.get("envFrom", []):
            ref = source.get("configMapRef") or source["secretRef"]
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            shared_readers.setdefault((kind, ref["name"]), set()).update(known)
    for (kind, ref), readers in shared_readers.items():
        keys = set(config[ref]["data"]) if kind == "ConfigMap" else secrets.get(ref)
        assert keys, f"{kind} {ref} is mounted but neither defined nor documented in README.md"
        assert keys <= readers, f"{kind} {ref} has keys no mounting service reads: {keys - readers}"


def test_every_setting_without_a_safe_default_is_set() -> None:
    """A default naming this machine or a development secret, or a needed setting without one, is set in every
    container running that service, from its env, the ConfigMap or a secret README.md documents; values
    written here never point at loopback."""
    config = of_kind("ConfigMap")
    secrets = readme_secret_keys()
    for name, container in containers():
        literal = {v["name"]: v.get("value", "") for v in container.get("env", [])}
        provided = set(literal)
        for source in container.get("envFrom", []):
            if "configMapRef" in source:
                literal |= config[source["configMapRef"]["name"]]["data"]
                provided |= set(config[source["configMapRef"]["name"]]["data"])
            else:
                provided |= secrets.get(source["secretRef"]["name"], set())
        for setting, names in required_settings(settings_of(service_of(container))).items():
            assert names & provided, f"{name}: {setting} ({' or '.join(sorted(names))}) is not set"
        for variable, value in literal.items():
            assert not any(local in str(value) for local in ("127.0.0.1", "localhost")), f"{name}: {variable}"


def test_selectors_services_and_targets_match() -> None:
    deployments = of_kind("Deployment")
    labels = {name: doc["spec"]["template"]["metadata"]["labels"] for name, doc in deployments.items()}
    for name, doc in deployments.items():
        assert doc["spec"]["selector"]["matchLabels"].items() <= labels[name].items()
    for name, service in of_kind("Service").items():
        (target,) = [d for d, own in labels.items() if service["spec"]["selector"].items() <= own.items()]
        port_names = {p["name"] for c in deployments[target]["spec"]["template"]["spec"]["containers"]
                      for p in c["ports"]}  # fmt: skip
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= port_names, name
        assert [p["port"] for p in service["spec"]["ports"]] == [CONTRACT_PORTS[name]]
    for name, budget in of_kind("PodDisruptionBudget").items():
        assert any(budget["spec"]["selector"]["matchLabels"].items() <= own.items() for own in labels.values()), name
    for name, scaler in of_kind("HorizontalPodAutoscaler").items():
        assert scaler["spec"]["scaleTargetRef"]["name"] in deployments, name
    for ingress in of_kind("Ingress").values():
        for rule in ingress["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                assert path["backend"]["service"]["name"] in of_kind("Service")


def test_metrics_are_scraped_from_the_app_port() -> None:
    for name, doc in of_kind("Deployment").items():
        annotations = doc["spec"]["template"]["metadata"].get("annotations", {})
        if not annotations:
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        assert annotations["prometheus.io/path"] == "/metrics"
        assert int(annotations["prometheus.io/port"]) == container["ports"][0]["containerPort"], name


@pytest.mark.parametrize("name", sorted(CONSUMERS))
def test_consumer_replicas_fit_the_partitions(name: str) -> None:
    partitions = int(of_kind("ConfigMap")["safetynet-config"]["data"]["SAFETYNET_TOPIC_PARTITIONS"])
    replicas = of_kind("Deployment")[name]["spec"]["replicas"]
    hpa = of_kind("HorizontalPodAutoscaler").get(name)
    assert max(replicas, hpa["spec"]["maxReplicas"] if hpa else 0) <= partitions


def test_replicas_partitions_and_autoscaling_follow_the_capacity_model() -> None:
    """deploy/capacity.yaml's deployed tier, through bench/capacity.py (docs/CAPACITY.md): replicas for its normal
    load, HPA up to its flood burst at the model's utilisation target, the partitions the burst needs."""
    model = capacity.load()
    plans, partitions = capacity.deployment(model)
    assert int(of_kind("ConfigMap")["safetynet-config"]["data"]["SAFETYNET_TOPIC_PARTITIONS"]) == partitions
    deployments, scalers = of_kind("Deployment"), of_kind("HorizontalPodAutoscaler")
    target = round(100 * model["assumptions"]["target_utilisation"])
    for service, plan in plans.items():
        assert deployments[service]["spec"]["replicas"] == plan.replicas, service
        spec = scalers[service]["spec"]
        assert (spec["minReplicas"], spec["maxReplicas"]) == (plan.replicas, plan.hpa_max), service
        assert [m["resource"]["target"]["averageUtilization"] for m in spec["metrics"]] == [target], service


def test_the_web_tier_leaves_temporal_work_to_the_worker() -> None:
    deployments = of_kind("Deployment")
    web = {v["name"]: v["value"] for v in deployments["workflow"]["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert web["SAFETYNET_RUN_WORKER"] == "false"
    (worker,) = deployments["workflow-worker"]["spec"]["template"]["spec"]["containers"]
    assert worker["command"] == ["python", "-m", "safetynet_workflow.worker"]


def test_workflow_trusts_forwarded_headers_from_the_ingress_only() -> None:
    """Behind the TLS ingress the UI's cookies are Secure (issue 20): uvicorn takes X-Forwarded-Proto/-For from
    the ingress's addresses, a setting (SAFETYNET_FORWARDED_ALLOW_IPS), never from everyone."""
    (container,) = of_kind("Deployment")["workflow"]["spec"]["template"]["spec"]["containers"]
    command = container["command"]
    assert "--proxy-headers" in command
    trusted = command[command.index("--forwarded-allow-ips") + 1]
    assert trusted == "$(SAFETYNET_FORWARDED_ALLOW_IPS)"
    value = of_kind("ConfigMap")["safetynet-config"]["data"]["SAFETYNET_FORWARDED_ALLOW_IPS"]
    workflow_settings: Any = settings_of("workflow")
    assert workflow_settings(forwarded_allow_ips=value).forwarded_allow_ips == value
    assert "*" not in value
    stack = (REPO_ROOT / "deploy" / "local" / "stack.sh").read_text()
    assert '--proxy-headers --forwarded-allow-ips "$forwarded_allow_ips"' in stack
    assert 'forwarded_allow_ips="${SAFETYNET_FORWARDED_ALLOW_IPS:-127.0.0.1}"' in stack
