"""compose.api.Project without root: the real config pipeline, a fake engine backend and a real
(in-thread) supervisor, as the orchestrator's own unit tests use (issue 13)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from compose.api import (
    ComposeFileError,
    EngineFailure,
    Project,
    PycomposeError,
    ServiceError,
    StackError,
    UsageError,
    WaitTimeout,
)
from compose.api.errors import translated
from compose.cli.main import main
from compose.orchestrator import client
from tests.unit.orchestrator.fakes import FakeBackend, FakeOps, serve_in_thread

STACK = """
name: proj
services:
  db:
    image: busybox
    healthcheck: {test: ["CMD", "ready"], interval: 10ms}
  web:
    image: "busybox:${TAG:-latest}"
    depends_on: {db: {condition: service_healthy}}
  tool:
    image: busybox
    profiles: [tools]
"""


class Backend(FakeBackend):
    """The fake engine plus output: logs and captured exec."""

    def __init__(self, ops: FakeOps) -> None:
        super().__init__(ops)
        self.execs: list[tuple[str, list[str], tuple[str, ...]]] = []

    def logs(self, cid: str, *, follow: bool, since: str | None,
             tail: int | None) -> Iterator[Any]:
        from engine.containers.spec import LogLine

        lines = [LogLine(f"2026-01-01T00:00:0{i}Z", "stdout", f"{cid} line {i}")
                 for i in range(3)]
        return iter(lines[-tail:] if tail else lines)

    def exec_output(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
                    workdir: str) -> tuple[int, bytes, bytes]:
        self.execs.append((cid, argv, env))
        return 2, b"out\n", b"err\n"


@pytest.fixture
def fake(state_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> Iterator[tuple[FakeOps, Backend]]:
    (tmp_path / "compose.yaml").write_text(STACK)
    monkeypatch.chdir(tmp_path)
    ops = FakeOps()
    t = serve_in_thread(ops)
    yield ops, Backend(ops)
    client.stop_supervisor("proj")
    t.join(5)


def test_loads_through_the_cli_pipeline_with_env_overrides(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    (tmp_path / "compose.yaml").write_text(STACK)
    monkeypatch.chdir(tmp_path)
    p = Project(env={"TAG": "1.36"})
    assert p.name == "proj"
    assert p.services == ("db", "web")  # `tool` sits in an inactive profile
    assert p.config.services["web"].image == "busybox:1.36"
    assert set(Project(profiles=["tools"]).services) == {"db", "web", "tool"}
    assert Project([tmp_path / "compose.yaml"], name="other").name == "other"


def test_compose_mistake_raises_what_the_cli_prints(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  web:\n    image: x\n    bogus: 1\n")
    with pytest.raises(ComposeFileError) as info:
        Project([bad])
    assert main(["-f", str(bad), "config"]) == 1
    cli_line = capsys.readouterr().err.strip()
    assert str(info.value) == cli_line
    assert (info.value.file, info.value.line) == (str(bad), 4)
    assert info.value.__cause__ is None and info.value.original is not None


def test_errors_form_one_hierarchy() -> None:
    from compose.errors import ComposeError, GraphError
    from engine.errors import NotFound

    for raised, expected in ((GraphError("cycle: a -> b -> a"), ComposeFileError),
                             (ComposeError("no such service: x"), StackError),
                             (NotFound("no such image", step="pull", obj="x"), EngineFailure)):
        with pytest.raises(expected) as info, translated():
            raise raised
        assert isinstance(info.value, PycomposeError)
        assert str(info.value) == str(raised)
    assert issubclass(WaitTimeout, TimeoutError) and issubclass(WaitTimeout, StackError)
    assert issubclass(UsageError, ValueError)
    with pytest.raises(KeyError), translated():  # our own bugs are not dressed up
        raise KeyError("x")


def test_up_ps_exec_logs_down(fake: tuple[FakeOps, Backend]) -> None:
    ops, be = fake
    p = Project(backend=be)
    p.up(timeout=10)
    rows = p.ps()
    assert [(r.service, r.name, r.state, r.number) for r in rows] == [
        ("db", "proj-db-1", "running", 1), ("web", "proj-web-1", "running", 1)]
    assert rows[0].health == "healthy" and rows[1].health is None
    assert rows[0].exit_code is None
    r = p.exec("web", "echo 'a b'", env={"K": "V"})
    assert (r.returncode, r.stdout, r.stderr, r.ok) == (2, "out\n", "err\n", False)
    assert be.execs[-1][1:] == (["echo", "a b"], ("K=V",))
    assert p.logs("db", tail=1) == "db-1 line 2\n"
    assert p.logs().count("line") == 6
    p.down()
    assert p.ps() == [] and be.networks == set()


def test_stop_start_restart_go_through_the_supervised_paths(
        fake: tuple[FakeOps, Backend]) -> None:
    ops, be = fake
    p = Project(backend=be)
    p.up(timeout=10)
    p.stop("web")
    assert [r.state for r in p.ps()] == ["running", "exited"]
    p.start()
    assert all(r.running for r in p.ps())
    be.calls.clear()
    p.restart("db")
    assert [c for c in be.calls if c[0] in ("stop", "start")] == [
        ("stop", "proj-db-1"), ("start", "proj-db-1")]
    p.down()


def test_failed_up_raises_per_service_reasons_and_the_block_cleans_up(
        fake: tuple[FakeOps, Backend]) -> None:
    ops, be = fake
    ops.probe_results = [(1, "not ready")] * 3
    p = Project(backend=be)
    with pytest.raises(StackError) as info, p:
        pytest.fail("the block must not run")
    assert any("db is unhealthy: not ready" in f for f in info.value.failures)
    assert be.containers == {}  # __enter__ took it down again


def test_wait_healthy_is_woken_by_events_and_times_out(fake: tuple[FakeOps, Backend]) -> None:
    ops, be = fake
    p = Project(backend=be)
    p.up(timeout=10)
    p.wait_healthy("db", timeout=5)  # already healthy: returns at once
    with pytest.raises(ServiceError, match="no healthcheck"):
        p.wait_healthy("web", timeout=1)
    p.down()


def test_questions_about_services_raise_service_errors(fake: tuple[FakeOps, Backend]) -> None:
    ops, be = fake
    p = Project(backend=be)
    with pytest.raises(ServiceError, match="no such service: nope"):
        p.ps("nope")
    with pytest.raises(ServiceError, match='"web" is not running'):
        p.exec("web", ["true"])
    with pytest.raises(UsageError, match="invalid pull policy"):
        p.up(pull="sometimes")
    with pytest.raises(ServiceError, match="no such service: nope"):
        p.up(["nope"])
    assert p.services == ("db", "web") and be.calls == []  # nothing done, nothing remembered


def test_context_manager_downs_on_an_exception(fake: tuple[FakeOps, Backend]) -> None:
    ops, be = fake
    with pytest.raises(RuntimeError, match="boom"), Project(backend=be) as p:
        assert len(p.ps()) == 2
        raise RuntimeError("boom")
    assert be.containers == {}
