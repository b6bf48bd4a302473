"""deploy / undeploy through the CLI against a fake API server (no real cluster can run
here): server-side apply with field manager pycompose, waits in dependency order, removal of
exactly the project's objects."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from compose.cli.main import main
from compose.k8s.deploy import Cluster, DeployError, wait_ready
from tests.unit.k8s.fakeapi import FakeApi

COMPOSE = """\
name: shop
services:
  db:
    image: postgres:16
    healthcheck: {test: ["CMD", "pg_isready"]}
  migrate:
    image: app:1
    restart: "no"
    depends_on: {db: {condition: service_healthy}}
  api:
    image: app:1
    ports: ["8000:8000"]
    depends_on:
      db: {condition: service_healthy}
      migrate: {condition: service_completed_successfully}
"""


@pytest.fixture
def api() -> Iterator[FakeApi]:
    server = FakeApi()
    yield server
    server.close()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    monkeypatch.chdir(tmp_path)
    for var in ("COMPOSE_FILE", "COMPOSE_PROJECT_NAME", "KUBECONFIG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def test_deploy_applies_waits_in_order_and_undeploy_removes_it(
        api: FakeApi, project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    kubeconfig = str(api.kubeconfig(project / "kubeconfig"))
    api.objects["/api/v1/namespaces/team/services/unrelated"] = {
        "kind": "Service", "metadata": {"name": "unrelated", "labels": {"app": "other"}}}
    assert main(["deploy", "--kubeconfig", kubeconfig]) == 0
    out = capsys.readouterr().out
    applies = [(p, q) for m, p, q, _ in api.requests if m == "PATCH"]
    assert applies and all(q["fieldManager"] == ["pycompose"] and q["force"] == ["true"]
                           for _, q in applies)
    assert all(auth == "Bearer t0k" for *_, auth in api.requests)
    assert "/apis/apps/v1/namespaces/team/deployments/api" in api.objects
    assert "/apis/batch/v1/namespaces/team/jobs/migrate" in api.objects
    lines = [line.strip() for line in out.splitlines()]
    order = [line.split()[1] for line in lines if line.endswith(("Ready", "Completed"))]
    assert order == ["db", "migrate", "api"]  # dependencies first, like up --wait
    assert lines.index("Deployment db  Waiting") < lines.index("Deployment db  Ready")

    assert main(["undeploy", "--kubeconfig", kubeconfig]) == 0
    assert list(api.objects) == ["/api/v1/namespaces/team/services/unrelated"]
    deleted = [p for m, p, _, _ in api.requests if m == "DELETE"]
    assert deleted[0].endswith(("/jobs/migrate", "/deployments/api", "/deployments/db"))


def test_refused_object_is_an_error_naming_it(api: FakeApi, project: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    api.refuse.add("migrate")
    code = main(["deploy", "--kubeconfig", str(api.kubeconfig(project / "k")), "-n", "x"])
    err = capsys.readouterr().err
    assert code == 1 and "Service migrate: the cluster refused it (422)" in err
    assert all("/namespaces/x/" in p for _, p, _, _ in api.requests)


def test_wait_gives_up_after_the_timeout(api: FakeApi, project: Path) -> None:
    cluster = Cluster.connect(str(api.kubeconfig(project / "k")), None)
    assert cluster.namespace == "team"
    with pytest.raises(DeployError, match="Deployment ghost was not ready within 0.2s"):
        wait_ready(cluster, [("Deployment", "ghost")], lambda *_: None, 0.2, interval=0.05)


def test_bad_kubeconfig_is_a_clear_error(project: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["deploy", "--kubeconfig", str(project / "missing")])
    assert code == 1 and "kubeconfig" in capsys.readouterr().err
