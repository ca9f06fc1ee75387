"""Deployment artefacts: the generated manifests are fresh, valid, and cover the catalogue.

No network and no cluster: scripts/gen-k8s and scripts/validate-k8s run as subprocesses with
this interpreter (the repo venv). The sandbox tests copy the scripts and deploy/ into a temp
folder with throwaway services, so the generator is exercised even before real services exist
and without touching services/.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from summit_common.bus import Naming
from summit_common.catalog import discover_services
from summit_contracts import REGISTRY

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "k8s" / "base"
PER_SERVICE_KINDS = {"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy", "ScaledObject"}


def run(root: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(root / "scripts" / script), *args], capture_output=True, text=True, timeout=300, cwd=root
    )


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def expected_consumers(service: str, event_types) -> set[tuple[str, str]]:
    naming = Naming()
    return {(naming.stream(t.split(".", 1)[0]), naming.durable(service, t)) for t in event_types}


def check_service_manifests(root: Path, name: str, event_types) -> None:
    """The five objects of one service, wired the way the platform needs them."""
    path = root / "deploy" / "k8s" / "base" / "services" / f"{name}.yaml"
    assert path.exists(), f"{path} missing: run .venv/bin/python scripts/gen-k8s"
    objs = {d["kind"]: d for d in docs(path)}
    assert set(objs) == PER_SERVICE_KINDS
    assert all(d["metadata"]["name"] == name for d in objs.values())

    deployment = objs["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert deployment["spec"]["replicas"] == 2
    assert container["args"] == [name]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"configMapRef": {"name": "summit-env"}} in container["envFrom"]
    assert {"secretRef": {"name": f"summit-svc-{name}", "optional": True}} in container["envFrom"]
    assert deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/scrape"] == "true"
    env = {e["name"]: e for e in container["env"]}
    assert env["SUMMIT_JWT_SECRET"]["valueFrom"]["secretKeyRef"]["name"] == "summit-jwt"
    assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"summit-db-{name}"

    assert objs["PodDisruptionBudget"]["spec"]["minAvailable"] == 1
    policy = objs["NetworkPolicy"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    assert {p["port"] for rule in policy["egress"] for p in rule["ports"]} == {4222, 5432, 53}

    triggers = objs["ScaledObject"]["spec"]["triggers"]
    got = {(t["metadata"]["stream"], t["metadata"]["consumer"]) for t in triggers if t["type"] == "nats-jetstream"}
    assert got == expected_consumers(name, event_types)
    assert len(got) == len([t for t in triggers if t["type"] == "nats-jetstream"]), "one trigger per consumer"
    assert [t["type"] for t in triggers if t["type"] != "nats-jetstream"] == ["cpu"]

    kustomization = yaml.safe_load((root / "deploy" / "k8s" / "base" / "kustomization.yaml").read_text())
    assert f"services/{name}.yaml" in kustomization["resources"]
    (cluster,) = docs(root / "deploy" / "k8s" / "base" / "postgres" / "cluster.yaml")
    roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
    role = name.replace("-", "_")
    assert roles[role]["passwordSecret"]["name"] == f"summit-db-{name}"
    sql = docs(root / "deploy" / "k8s" / "base" / "postgres" / "bootstrap-sql.yaml")[0]["data"]["bootstrap.sql"]
    assert f'CREATE SCHEMA IF NOT EXISTS "{role}" AUTHORIZATION "{role}";' in sql
    compose = yaml.safe_load((root / "compose.yaml").read_text())["services"]
    assert compose[name]["command"] == [name]


# --- the committed files ----------------------------------------------------------------------------
def test_generated_files_are_fresh():
    result = run(ROOT, "gen-k8s", "--check")
    assert result.returncode == 0, f"stale: run .venv/bin/python scripts/gen-k8s\n{result.stdout}{result.stderr}"


def test_manifests_validate():
    result = run(ROOT, "validate-k8s", "--quiet")
    assert result.returncode == 0, result.stderr


def test_every_service_has_its_manifests():
    services = discover_services()
    for name, service in services.items():
        check_service_manifests(ROOT, name, service.handlers)
    generated = {p.stem for p in (BASE / "services").glob("*.yaml")}
    assert generated == set(services), "manifests for services that do not exist (or the reverse)"


def test_nats_fsyncs_every_write():
    (config,) = [d for d in docs(BASE / "nats" / "config.yaml") if d["metadata"]["name"] == "nats-config"]
    conf = "\n".join(re.sub(r"(^|\s)#.*$", "", line) for line in config["data"]["nats.conf"].splitlines())
    jetstream = re.search(r"jetstream\s*\{(.*?)\n\s*\}", conf, re.S)
    assert jetstream, "nats.conf needs a jetstream block"
    assert re.search(r"^\s*sync_interval:\s*always\s*$", jetstream.group(1), re.M)
    (statefulset,) = docs(BASE / "nats" / "statefulset.yaml")
    assert statefulset["spec"]["replicas"] == 3


def test_dockerfile_runs_one_service_by_argument_as_non_root():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["summit", "run"]' in dockerfile
    assert re.search(r"^USER 10001", dockerfile, re.M)
    assert re.search(r"^HEALTHCHECK .*\n?.*/healthz", dockerfile, re.M)
    assert len(re.findall(r"^FROM ", dockerfile, re.M)) >= 2
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".summit"} <= set(ignored)


# --- the generator itself, on throwaway services -----------------------------------------------------
def _event_types(count: int) -> list[str]:
    """Registered event types from as many domains as possible (so triggers span several streams)."""
    by_domain: dict[str, str] = {}
    for spec in REGISTRY:
        by_domain.setdefault(spec.domain, spec.type)
    types = list(by_domain.values())[:count]
    assert types, "the contracts registry is empty"
    return types


SERVICE_PY = """
from summit_common import Service


async def handle(event, uow):
    return None


service = Service(name={name!r}, description="throwaway test service", handlers={{t: handle for t in {types!r}}})
"""


@pytest.fixture
def sandbox(tmp_path: Path) -> Path:
    """A copy of the deployment tooling with two throwaway services (one consumer, one HTTP-only)."""
    (tmp_path / "scripts").mkdir()
    for script in ("gen-k8s", "validate-k8s"):
        shutil.copy2(ROOT / "scripts" / script, tmp_path / "scripts" / script)
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "__init__.py").write_text("")
    for package, name, types in (("zz_consumer", "zz-consumer", _event_types(2)), ("zz_http_only", "zz-http-only", [])):
        (tmp_path / "services" / package).mkdir()
        (tmp_path / "services" / package / "__init__.py").write_text("")
        (tmp_path / "services" / package / "service.py").write_text(
            textwrap.dedent(SERVICE_PY.format(name=name, types=types))
        )
    result = run(tmp_path, "gen-k8s")
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path


def test_sandbox_generates_valid_fresh_manifests(sandbox: Path):
    listed = run(sandbox, "gen-k8s", "--list-services").stdout.split()
    assert listed == ["zz-consumer", "zz-http-only"]
    assert run(sandbox, "gen-k8s", "--check").returncode == 0
    result = run(sandbox, "validate-k8s")
    assert result.returncode == 0, result.stderr
    check_service_manifests(sandbox, "zz-consumer", _event_types(2))
    check_service_manifests(sandbox, "zz-http-only", [])
    # Services of the real repo were dropped from the sandbox: their copied manifests must be gone.
    assert {p.stem for p in (sandbox / "deploy/k8s/base/services").glob("*.yaml")} == {"zz-consumer", "zz-http-only"}
    ports = [
        s["ports"][0]
        for n, s in yaml.safe_load((sandbox / "compose.yaml").read_text())["services"].items()
        if n.startswith("zz-")
    ]
    assert ports == ["8001:8000", "8002:8000"]


def test_check_reports_edited_and_stale_files(sandbox: Path):
    manifest = sandbox / "deploy/k8s/base/services/zz-consumer.yaml"
    manifest.write_text(manifest.read_text().replace("replicas: 2", "replicas: 5"))
    result = run(sandbox, "gen-k8s", "--check")
    assert result.returncode == 1 and "zz-consumer.yaml" in result.stderr
    assert run(sandbox, "gen-k8s").returncode == 0
    (sandbox / "deploy/k8s/base/services/ghost.yaml").write_text("{}\n")
    result = run(sandbox, "gen-k8s", "--check")
    assert result.returncode == 1 and "ghost.yaml" in result.stderr


@pytest.mark.parametrize(
    ("path", "old", "new", "message"),
    [
        # a typo in a built-in kind (strict Kubernetes schema)
        (
            "deploy/k8s/base/services/zz-consumer.yaml",
            "revisionHistoryLimit:",
            "revisionHistoryLimt:",
            "revisionHistoryLimt",
        ),
        # KEDA trigger metadata must be strings
        ("deploy/k8s/base/services/zz-consumer.yaml", "lagThreshold: '500'", "lagThreshold: 500", "lagThreshold"),
        # a typo in the CNPG Cluster (hand-written CRD schema)
        ("deploy/k8s/base/postgres/cluster.yaml", "  instances: 3", "  instance: 3", "instance"),
        # the fsync choice
        ("deploy/k8s/base/nats/config.yaml", "sync_interval: always", "sync_interval: 2m", "sync_interval"),
        # a Service that selects nothing
        (
            "deploy/k8s/base/nats/services.yaml",
            "app.kubernetes.io/component: messaging\n  ports:",
            "app.kubernetes.io/component: messagin\n  ports:",
            "selects no workload",
        ),
        # an overlay patch whose target does not exist
        ("deploy/k8s/overlays/prod/kustomization.yaml", "name: summit-pg", "name: summit-pgx", "matches no object"),
    ],
)
def test_validate_rejects_broken_manifests(sandbox: Path, path: str, old: str, new: str, message: str):
    target = sandbox / path
    text = target.read_text()
    assert old in text
    target.write_text(text.replace(old, new, 1))
    result = run(sandbox, "validate-k8s", "--quiet")
    assert result.returncode == 1
    assert "ERROR" in result.stderr and message in result.stderr, result.stderr
