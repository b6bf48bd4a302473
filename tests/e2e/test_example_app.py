"""End to end: the realistic example stack (examples/stacks/app) on the locally built Debian
base — redis and postgres healthchecks, a one-shot migration gating the web app, nginx
publishing a port on 127.0.0.1, a named volume for the database, .env + interpolation — brought
up through the CLI, used over HTTP, restarted with its data, and taken down without a trace."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.cli import Stack, leftovers
from tests.e2e.examples import (
    REPO,
    free_port,
    kernel_leftovers,
    kernel_objects,
    require_debian_material,
)

pytestmark = [pytest.mark.root, pytest.mark.slow]

APP = REPO / "examples" / "stacks" / "app"
PASSWORD = "pw-from-the-environment"
UP_TIMEOUT = 240


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> Iterator[tuple[Stack, str]]:
    """The app project in a private state root, its proxy on a free port; always torn down."""
    require_debian_material()
    port = free_port()
    # The shell environment beats .env and ${VAR:-default} (compose interpolation rules).
    monkeypatch.setenv("PROXY_PORT", str(port))
    monkeypatch.setenv("POSTGRES_PASSWORD", PASSWORD)
    root = tmp_path / "state"
    root.mkdir()
    st = Stack(APP, root, "pcapp" + request.node.name[-8:].lower().strip("_"))
    yield st, f"http://127.0.0.1:{port}"
    st.run("down", "-v", "-t", "5", check=False)
    assert leftovers(st) == []


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        data: dict[str, object] = json.load(resp)
        return data


def _post(url: str, body: str) -> dict[str, object]:
    req = urllib.request.Request(url, data=body.encode(), method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        data: dict[str, object] = json.load(resp)
        return data


def _times(stack: Stack) -> dict[str, tuple[str, str]]:
    """service -> (started_at, finished_at) of its container (ISO 8601 UTC, comparable)."""
    code = ("import json; from engine import containers; print(json.dumps({"
            "c.labels['com.docker.compose.service']: [c.started_at, c.finished_at] "
            "for c in containers.list_containers()}))")
    out = subprocess.run([sys.executable, "-c", code], env=stack.env(), capture_output=True,
                         text=True, check=True).stdout
    return {k: (v[0], v[1]) for k, v in json.loads(out).items()}


def _up(stack: Stack) -> float:
    start = time.monotonic()
    stack.run("up", "-d", "--wait", timeout=UP_TIMEOUT)
    return time.monotonic() - start


def test_app_stack_serves_persists_and_leaves_nothing(app: tuple[Stack, str]) -> None:
    stack, url = app
    stack.run("build", timeout=UP_TIMEOUT)
    print(f"app stack up (to healthy) in {_up(stack):.1f} s")

    ps = stack.run("ps", "-a").stdout
    for svc in ("redis", "postgres", "web", "proxy"):
        line = next(ln for ln in ps.splitlines() if f"-{svc}-1 " in ln)
        assert "(healthy)" in line, ps
    assert "Exited (0)" in next(ln for ln in ps.splitlines() if "-migrate-1 " in ln), ps

    # Health-gated order: migrate after postgres, web only after migrate completed.
    t = _times(stack)
    assert t["postgres"][0] < t["migrate"][0]
    assert t["migrate"][1] and t["migrate"][1] <= t["web"][0]
    assert t["web"][0] < t["proxy"][0]

    # Through nginx on the published port: the counter lives in redis, rows in postgres.
    first = _get(url + "/")
    assert first["greeting"] == "hello from the pycompose example app"  # from .env
    assert first["messages"] == [{"id": 1, "body": "seeded by migrate"}]
    assert _get(url + "/")["visits"] == first["visits"] + 1  # type: ignore[operator]
    _post(url + "/messages", "kept across down and up")

    # The environment won over the ${POSTGRES_PASSWORD:-example} default; the named volume
    # was filled from the image, so it belongs to postgres (initdb ran as postgres).
    env = stack.run("exec", "-T", "web", "printenv", "POSTGRES_PASSWORD").stdout
    assert env.strip() == PASSWORD
    owner = stack.run("exec", "-T", "postgres", "stat", "-c", "%U %a",
                      "/var/lib/postgresql/data").stdout
    assert owner.split() == ["postgres", "700"]
    resolved = stack.run("exec", "-T", "web", "getent", "hosts", "postgres", "redis").stdout
    assert len(resolved.splitlines()) == 2, resolved

    # down keeps the named volume: the rows survive, the (unpersisted) redis counter does not.
    first_round = kernel_objects(stack)
    stack.run("down", "-t", "5")
    assert kernel_leftovers(first_round) == []
    _up(stack)
    again = _get(url + "/")
    assert [m["body"] for m in again["messages"]] == [  # type: ignore[attr-defined]
        "seeded by migrate", "kept across down and up"]
    assert again["visits"] == 1

    objs = kernel_objects(stack)
    live = kernel_leftovers(objs)  # while up, the check must see the project's objects
    assert sum(x.startswith("link pcbr-") for x in live) == 2, live  # front and back
    assert any(x.startswith("link pcv") for x in live), live
    assert any("pycompose:net:" in x for x in live), live
    stack.run("down", "-v", "-t", "5")
    assert leftovers(stack) == []
    assert kernel_leftovers(objs) == []
