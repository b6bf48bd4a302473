"""compose → Kubernetes: each mapping, what is refused (naming service and key), and the
semantics that matter: every depends_on edge is a wait, every isolation a policy denial."""
from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from compose.config import LoadOptions, load
from compose.k8s import ConvertError, ConvertOptions, convert_project
from compose.k8s.output import dump
from compose.k8s.workloads import WAITER

GOLDEN = Path(__file__).parent / "golden"

FULL = """\
name: shop
services:
  db:
    image: postgres:16
    user: "999:999"
    environment: {POSTGRES_PASSWORD_FILE: /run/secrets/dbpass}
    secrets: [dbpass]
    volumes: [dbdata:/var/lib/postgresql/data]
    healthcheck:
      test: ["CMD", "pg_isready"]
      interval: 5s
      timeout: 3s
      retries: 4
      start_period: 20s
      start_interval: 2s
    networks: [back]
    stop_grace_period: 30s
    shm_size: 128m
  migrate:
    image: shop/app:1
    command: ["migrate"]
    restart: "no"
    depends_on: {db: {condition: service_healthy}}
    networks: [back]
  api:
    image: shop/app:1
    entrypoint: ["/app"]
    command: ["serve", "--port", "8000"]
    working_dir: /srv
    environment: {MODE: prod}
    ports: ["8000:8000"]
    expose: ["9100"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
    networks:
      back: {}
      front: {aliases: [backend]}
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "0.5", memory: 256M}
        reservations: {cpus: "0.25", memory: 128M}
    cap_drop: [ALL]
    cap_add: [NET_BIND_SERVICE]
    read_only: true
    security_opt: ["no-new-privileges:true"]
    tmpfs: [/tmp]
    configs: [{source: apiconf, target: /etc/api.toml}]
    labels: {com.example.team: shop}
    extra_hosts: ["metrics.local:10.1.2.3"]
    dns_search: [corp.example]
    sysctls: {net.ipv4.tcp_syncookies: "1"}
    init: true
    stop_signal: SIGINT
    pull_policy: always
    x-kubernetes: {service_type: LoadBalancer}
  web:
    image: nginx:1.27
    container_name: shop-web
    ports: ["8080:80"]
    depends_on: [api]
    networks: [front]
networks:
  back: {internal: true}
  front: {}
volumes:
  dbdata:
    labels: {com.pycompose.kubernetes.size: 5Gi}
secrets:
  dbpass: {environment: SHOP_DB_PASSWORD}
configs:
  apiconf: {content: "port = 8000\\n"}
"""


def _convert(tmp_path: Path, text: str, **opts: Any) -> tuple[list[dict[str, Any]], list[str]]:
    (tmp_path / "compose.yaml").write_text(text)
    project = load(LoadOptions(files=(str(tmp_path / "compose.yaml"),),
                               working_dir=str(tmp_path), environ={"SHOP_DB_PASSWORD": "pw"}))
    return convert_project(project, ConvertOptions(**opts))


def _get(objs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name)


@pytest.fixture
def full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setenv("SHOP_DB_PASSWORD", "pw")
    objs, warnings = _convert(tmp_path, FULL)
    assert warnings == []
    return objs


def test_golden_manifests(full: list[dict[str, Any]]) -> None:
    """The whole output for a stack that uses each mapping; PYCOMPOSE_GOLDEN=1 rewrites it."""
    text = dump(full)
    path = GOLDEN / "shop.yaml"
    if os.environ.get("PYCOMPOSE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_workload_kinds_and_pod_mapping(full: list[dict[str, Any]]) -> None:
    assert _get(full, "StatefulSet", "db")["spec"]["template"]["spec"]["containers"][0][
        "securityContext"] == {"runAsUser": 999, "runAsGroup": 999}
    job = _get(full, "Job", "migrate")
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    api = _get(full, "Deployment", "api")
    pod = api["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert api["spec"]["replicas"] == 2
    assert (c["command"], c["args"], c["workingDir"]) == (["/app"], ["serve", "--port", "8000"],
                                                          "/srv")
    assert c["resources"] == {"limits": {"cpu": "500m", "memory": str(256 << 20)},
                              "requests": {"cpu": "250m", "memory": str(128 << 20)}}
    assert c["securityContext"] == {"readOnlyRootFilesystem": True, "capabilities": {
        "add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}, "allowPrivilegeEscalation": False}
    assert c["lifecycle"] == {"stopSignal": "SIGINT"} and pod["os"] == {"name": "linux"}
    assert c["imagePullPolicy"] == "Always" and pod["shareProcessNamespace"] is True
    assert pod["hostAliases"] == [{"ip": "10.1.2.3", "hostnames": ["metrics.local"]}]
    assert pod["dnsConfig"] == {"searches": ["corp.example"]}
    assert pod["securityContext"] == {"sysctls": [{"name": "net.ipv4.tcp_syncookies",
                                                   "value": "1"}]}
    assert api["spec"]["template"]["metadata"]["annotations"] == {"com.example.team": "shop"}


def test_healthcheck_becomes_probes(full: list[dict[str, Any]]) -> None:
    c = _get(full, "StatefulSet", "db")["spec"]["template"]["spec"]["containers"][0]
    probe = {"exec": {"command": ["pg_isready"]}, "periodSeconds": 5, "timeoutSeconds": 3,
             "failureThreshold": 4}
    assert c["readinessProbe"] == probe and c["livenessProbe"] == probe
    assert c["startupProbe"] == {**probe, "periodSeconds": 2, "failureThreshold": 10}


def test_discovery_services(full: list[dict[str, Any]]) -> None:
    api = _get(full, "Service", "api")
    assert api["spec"]["type"] == "LoadBalancer"
    assert [(p["port"], p["targetPort"]) for p in api["spec"]["ports"]] == [(8000, 8000),
                                                                           (9100, 9100)]
    assert _get(full, "Service", "backend")["spec"]["selector"] == api["spec"]["selector"]
    assert _get(full, "Service", "shop-web")["spec"]["selector"]["com.docker.compose.service"] \
        == "web"
    assert _get(full, "Service", "migrate")["spec"]["clusterIP"] == "None"  # no ports: headless


def test_storage_configs_and_secrets(full: list[dict[str, Any]]) -> None:
    pvc = _get(full, "PersistentVolumeClaim", "shop-dbdata")
    assert pvc["spec"] == {"accessModes": ["ReadWriteOnce"],
                           "resources": {"requests": {"storage": "5Gi"}}}
    assert _get(full, "Secret", "shop-dbpass")["data"] == {"content": "cHc="}
    assert _get(full, "ConfigMap", "shop-apiconf")["data"] == {"content": "port = 8000\n"}
    pod = _get(full, "Deployment", "api")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    assert mounts["/etc/api.toml"]["subPath"] == "content" and "/tmp" in mounts
    db = _get(full, "StatefulSet", "db")["spec"]["template"]["spec"]
    assert {m["mountPath"] for m in db["containers"][0]["volumeMounts"]} == {
        "/var/lib/postgresql/data", "/dev/shm", "/run/secrets/dbpass"}


def _waits(obj: dict[str, Any]) -> list[list[str]]:
    return [c["command"] for c in obj["spec"]["template"]["spec"].get("initContainers", [])]


def test_every_depends_on_edge_is_a_wait(full: list[dict[str, Any]], tmp_path: Path) -> None:
    workloads = {o["metadata"]["labels"]["com.docker.compose.service"]: o for o in full
                 if o["kind"] in ("Deployment", "StatefulSet", "Job")}
    project = load(LoadOptions(files=(str(tmp_path / "compose.yaml"),)))
    for name, svc in project.services.items():
        waits = _waits(workloads[name])
        assert len(waits) == len(svc.depends_on)
        for (dep, cond), cmd in zip(svc.depends_on.items(), waits, strict=True):
            target = workloads[dep]
            assert f"{target['kind'].lower()}/{dep}" in cmd
            assert ("--for=condition=complete" in cmd) == (
                cond.condition == "service_completed_successfully")
        if waits:
            assert workloads[name]["spec"]["template"]["spec"]["serviceAccountName"] == WAITER
    assert any(o["kind"] == "RoleBinding" for o in full)


def _allowed(policies: list[dict[str, Any]], src: dict[str, str], dst: dict[str, str]) -> bool:
    """Can a pod labelled ``src`` open any port on a pod labelled ``dst`` (port-restricted
    rules, which only open published ports to everyone, left aside)?"""
    def match(sel: dict[str, Any], labels: dict[str, str]) -> bool:
        return all(labels.get(k) == v for k, v in sel.get("matchLabels", {}).items())
    selecting = [p for p in policies if match(p["spec"]["podSelector"], dst)
                 and "Ingress" in p["spec"]["policyTypes"]]
    if not selecting:
        return True
    return any("ports" not in rule and any(match(f["podSelector"], src) for f in rule["from"])
               for p in selecting for rule in p["spec"].get("ingress", []))


def test_every_isolation_is_a_policy_denial(full: list[dict[str, Any]], tmp_path: Path) -> None:
    project = load(LoadOptions(files=(str(tmp_path / "compose.yaml"),)))
    labels = {o["metadata"]["labels"]["com.docker.compose.service"]:
              o["spec"]["template"]["metadata"]["labels"] for o in full
              if o["kind"] in ("Deployment", "StatefulSet", "Job")}
    policies = [o for o in full if o["kind"] == "NetworkPolicy"]
    denied = 0
    for a, b in itertools.permutations(project.services, 2):
        shared = set(project.services[a].networks) & set(project.services[b].networks)
        assert _allowed(policies, labels[a], labels[b]) == bool(shared), (a, b)
        denied += not shared
    assert denied == 4  # web↔db and web↔migrate, both ways


def test_internal_network_limits_egress(full: list[dict[str, Any]]) -> None:
    back = _get(full, "NetworkPolicy", "net-back")["spec"]
    front = _get(full, "NetworkPolicy", "net-front")["spec"]
    assert back["egress"][0] == {"to": [{"podSelector": back["podSelector"]}]}
    assert front["egress"] == [{}]
    published = _get(full, "NetworkPolicy", "published-web")["spec"]
    assert published["ingress"] == [{"ports": [{"port": 80, "protocol": "TCP"}]}]


@pytest.mark.parametrize(("snippet", "where"), [
    ("    volumes: [./src:/src]\n", 'service "a": volumes'),
    ("    devices: [/dev/fuse]\n", 'service "a": devices'),
    ("    ulimits: {nofile: 1024}\n", 'service "a": ulimits'),
    ("    user: app\n", 'service "a": user'),
    ("    restart: on-failure\n", 'service "a": restart'),
    ("    network_mode: container:other\n", 'service "a": network_mode'),
    ("    sysctls: {net.core.somaxconn: '1024'}\n", 'service "a": sysctls.net.core.somaxconn'),
    ("    volumes_from: [b]\n", 'service "a": volumes_from'),
])
def test_what_cannot_be_expressed_names_service_and_key(tmp_path: Path, snippet: str,
                                                        where: str) -> None:
    text = f"services:\n  a:\n    image: x\n{snippet}  b:\n    image: y\n"
    with pytest.raises(ConvertError, match=where):
        _convert(tmp_path, text)
    objs, warnings = _convert(tmp_path, text, allow_lossy=True)
    assert len(warnings) == 1 and warnings[0].startswith(where)
    assert _get(objs, "Deployment", "a")


def test_bind_mount_as_host_path_when_asked(tmp_path: Path) -> None:
    objs, _ = _convert(tmp_path, "services:\n  a:\n    image: x\n    volumes: [./src:/src:ro]\n"
                       "    x-kubernetes: {bind: hostPath}\n")
    pod = _get(objs, "Deployment", "a")["spec"]["template"]["spec"]
    assert pod["volumes"][0]["hostPath"] == {"path": str(tmp_path / "src")}


def test_names_kubernetes_cannot_carry_are_reported(tmp_path: Path) -> None:
    with pytest.raises(ConvertError, match='service "web_app": name'):
        _convert(tmp_path, "services:\n  web_app:\n    image: x\n")
    with pytest.raises(ConvertError, match="same Service 'b'"):
        _convert(tmp_path, "services:\n  a:\n    image: x\n    networks: {default: {aliases: "
                 "[b]}}\n  b:\n    image: y\n")


def test_namespace_and_digests(tmp_path: Path) -> None:
    objs, _ = _convert(tmp_path, "services:\n  a:\n    image: x\n", namespace="team",
                       images={"a": "reg.example/x@sha256:" + "0" * 64})
    assert {o["metadata"]["namespace"] for o in objs} == {"team"}
    c = _get(objs, "Deployment", "a")["spec"]["template"]["spec"]["containers"][0]
    assert c["image"].endswith("@sha256:" + "0" * 64)
    assert yaml.safe_load(dump(objs[:1])) == objs[0]
