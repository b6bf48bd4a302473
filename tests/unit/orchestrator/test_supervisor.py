"""Supervisor core + socket protocol, with a fake container engine (no root)."""
from __future__ import annotations

import json
import selectors
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose.orchestrator import client, daemon, state
from compose.orchestrator.health import HealthConfig
from compose.orchestrator.restart import PolicyName, RestartPolicy
from compose.orchestrator.supervisor import EventHub, Supervisor
from tests.unit.orchestrator.fakes import FakeOps, serve_in_thread


@pytest.fixture
def supervisor(state_root: Path) -> Iterator[tuple[FakeOps, client.Subscription]]:
    ops = FakeOps()
    t = serve_in_thread(ops)
    sub = client.Subscription("proj")
    yield ops, sub
    sub.close()
    client.stop_supervisor("proj")
    t.join(5)
    assert not t.is_alive()
    assert not daemon.socket_path("proj").exists()


def row(cid: str, restart: RestartPolicy = RestartPolicy(),
        health: HealthConfig | None = None) -> state.Supervised:
    return state.Supervised(cid, "proj", cid.split("-")[0], f"proj-{cid}", health, restart)


def next_event(events: Iterator[dict], kind: str) -> dict:
    for ev in events:
        if ev["event"] == kind:
            return ev
    raise AssertionError(f"stream ended before {kind}")


def test_ping_and_unknown_op(supervisor: tuple[FakeOps, client.Subscription]) -> None:
    assert client.is_running("proj")
    deadline = time.monotonic() + 5
    while not supervisor[0].prepared and time.monotonic() < deadline:  # (beside the serving)
        time.sleep(0.01)
    assert supervisor[0].prepared  # the engine calls are loaded without waiting for a request
    assert client.request("proj", "bogus") == {"ok": False, "error": "unknown op 'bogus'"}


def test_health_transitions_are_published_and_stored(
        supervisor: tuple[FakeOps, client.Subscription]) -> None:
    ops, sub = supervisor
    ops.add("db-1")
    ops.probe_results = [(1, "not yet"), (0, "accepting connections")]
    state.save(row("db-1", health=HealthConfig(("pg_isready",), interval=0.01, retries=3)))
    client.watch("proj", "db-1")
    events = iter(sub)
    ev = next_event(events, "healthy")
    assert ev["service"] == "db" and ev["detail"] == "accepting connections"
    stored = state.get("db-1")
    assert stored is not None and stored.health_status == "healthy"


def test_unhealthy_after_retries_with_output(
        supervisor: tuple[FakeOps, client.Subscription]) -> None:
    ops, sub = supervisor
    ops.add("db-1")
    ops.probe_results = [(1, "refused")] * 2 + [(1, "still refused")]
    state.save(row("db-1", health=HealthConfig(("x",), interval=0.01, retries=3)))
    client.watch("proj", "db-1")
    ev = next_event(iter(sub), "unhealthy")
    assert ev["detail"] == "still refused"


def test_exit_is_published_and_on_failure_restarts(
        supervisor: tuple[FakeOps, client.Subscription]) -> None:
    ops, sub = supervisor
    ops.add("job-1")
    state.save(row("job-1", restart=RestartPolicy(PolicyName.ON_FAILURE, 1)))
    client.watch("proj", "job-1")
    events = iter(sub)
    ops.exit_container("job-1", 3)
    assert next_event(events, "exited")["exit_code"] == 3
    next_event(events, "started")
    assert ops.starts == ["job-1"]
    stored = state.get("job-1")
    assert stored is not None and stored.restart_count == 1
    ops.exit_container("job-1", 3)  # the one allowed retry is used up
    assert next_event(events, "exited")["exit_code"] == 3
    assert ops.starts == ["job-1"]


def test_user_stop_is_not_restarted(supervisor: tuple[FakeOps, client.Subscription]) -> None:
    ops, sub = supervisor
    ops.add("web-1")
    state.save(row("web-1", restart=RestartPolicy(PolicyName.ALWAYS)))
    client.watch("proj", "web-1")
    state.update("web-1", stopped_by_user=True)
    events = iter(sub)
    ops.exit_container("web-1", 0)
    next_event(events, "exited")
    assert ops.starts == []


def test_an_auto_remove_container_is_removed_once_it_exits(
        supervisor: tuple[FakeOps, client.Subscription]) -> None:
    """``run --rm -d``: docker's AutoRemove; the row round-trips through the store."""
    ops, sub = supervisor
    ops.add("job-run-1")
    state.save(row("job-run-1", restart=RestartPolicy(auto_remove=True)))
    stored = state.get("job-run-1")
    assert stored is not None and stored.restart.auto_remove
    client.watch("proj", "job-run-1")
    events = iter(sub)
    ops.exit_container("job-run-1", 0)
    next_event(events, "exited")
    with ops.cond:
        assert ops.cond.wait_for(lambda: ops.removed == ["job-run-1"], 5)
    deadline = time.monotonic() + 5
    while state.get("job-run-1") is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert state.get("job-run-1") is None and ops.starts == []


def test_readoption_restarts_exited_always_container(state_root: Path) -> None:
    ops = FakeOps()
    ops.add("web-1", running=False)
    ops.add("job-1", running=False)
    state.save(row("web-1", restart=RestartPolicy(PolicyName.ALWAYS)))
    state.save(row("job-1", restart=RestartPolicy(PolicyName.ON_FAILURE)))
    from compose.orchestrator.supervisor import Supervisor

    events: list[dict] = []
    sup = Supervisor("proj", ops, events.append)
    sup.adopt_all()
    assert ops.starts == ["web-1"]
    assert [e["event"] for e in events] == ["started"]
    sup.unwatch_all()
    ops.exit_container("web-1", 0)  # releases the waiting thread


def test_server_wakes_on_shutdown_request_without_polling(
        state_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``down`` waits for the supervisor to exit: its accept loop blocks in select without a
    timeout and a shutdown request wakes it (no poll interval bounds the exit)."""
    timeouts: list[float | None] = []
    real = selectors.DefaultSelector.select

    def select(self: selectors.BaseSelector, timeout: float | None = None) -> list:
        timeouts.append(timeout)
        return real(self, timeout)

    monkeypatch.setattr(selectors.DefaultSelector, "select", select)
    path = state_root / "srv.sock"
    hub = EventHub()
    server = daemon._Server(str(path), Supervisor("proj", FakeOps(), hub.publish), hub)
    t = threading.Thread(target=server.serve_until_shutdown, daemon=True)
    t.start()
    with socket.socket(socket.AF_UNIX) as sock:  # requests are served while it runs
        sock.connect(str(path))
        sock.sendall(b'{"op": "ping"}\n')
        assert b'"ok": true' in sock.makefile("rb").readline()
    server.request_shutdown()
    server.request_shutdown()  # twice is harmless
    t.join(5)
    assert not t.is_alive()
    server.server_close()
    assert timeouts and all(t is None for t in timeouts)


def test_a_threads_watch_and_publish_requests_share_one_connection(
        supervisor: tuple[FakeOps, client.Subscription],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ops, sub = supervisor
    handled: list[int] = []
    setup = daemon._Handler.setup

    def counting(self: daemon._Handler) -> None:
        handled.append(1)
        setup(self)

    monkeypatch.setattr(daemon._Handler, "setup", counting)
    state.save(row("web-1"))
    ops.add("web-1")
    events = iter(sub)
    for n in range(3):
        client.publish("proj", {"event": "created", "container": f"c{n}"})
    client.watch("proj", "web-1")
    assert [next_event(events, "created")["container"] for _ in range(3)] == ["c0", "c1", "c2"]
    assert handled == [1]  # one connection (and handler thread) for all four requests


def test_a_kept_connection_to_a_restarted_supervisor_is_replaced(state_root: Path) -> None:
    ops = FakeOps()
    for _ in range(2):  # the second supervisor finds the first one's connection closed
        t = serve_in_thread(ops)
        sub = client.Subscription("proj")
        events = iter(sub)
        client.publish("proj", {"event": "created", "container": "c"})
        assert next_event(events, "created")["container"] == "c"
        sub.close()
        client.stop_supervisor("proj")
        t.join(5)
        assert not t.is_alive()


def test_a_kept_connection_to_a_stopped_supervisor_is_closed_at_the_next_new_one(
        state_root: Path) -> None:
    """A long-lived process (the Python API, a test session) goes through many projects: the
    kept connection to one whose supervisor ``down`` stopped is closed when this thread next
    opens one, instead of staying open for the life of the process."""
    ops = FakeOps()
    t = serve_in_thread(ops, "first")
    client.publish("first", {"event": "created", "container": "c"})
    first = client._kept.conns[str(client.socket_path("first"))][0]
    client.stop_supervisor("first")
    t.join(5)
    assert first.fileno() >= 0  # nothing has looked yet
    t = serve_in_thread(ops, "second")
    client.publish("second", {"event": "created", "container": "c"})
    assert first.fileno() == -1
    assert list(client._kept.conns) == [str(client.socket_path("second"))]
    client.stop_supervisor("second")
    t.join(5)


def test_a_subscription_until_a_past_time_is_the_replay_up_to_it_then_ends(
        supervisor: tuple[FakeOps, client.Subscription]) -> None:
    for n, when in enumerate((100.0, 200.0, 300.0)):
        client.publish("proj", {"event": "started", "container": f"c{n}", "time": when})
    client.request("proj", "ping")  # the publishes are handled before the subscription
    past = client.Subscription("proj", since=150.0, until=250.0)
    assert [ev["container"] for ev in past] == ["c1"]  # the iteration ends by itself
    past.close()
    every = client.Subscription("proj", until=250.0)  # like dockerd: all kept ones up to it
    assert [ev["container"] for ev in every] == ["c0", "c1"]
    every.close()
    live = client.Subscription("proj", since=150.0)  # no until: replay, then it stays open
    events = iter(live)
    assert [next(events)["container"] for _ in range(2)] == ["c1", "c2"]
    client.publish("proj", {"event": "started", "container": "c3"})
    assert next(events)["container"] == "c3"
    live.close()


def test_a_subscriber_that_stops_reading_is_dropped_not_waited_for() -> None:
    hub = EventHub()
    stalled, stalled_peer = socket.socketpair()
    reader, reader_peer = socket.socketpair()
    with stalled, stalled_peer, reader, reader_peer:
        assert hub.add(stalled) and hub.add(reader)
        received = []
        drain = threading.Thread(target=lambda: received.extend(
            reader_peer.makefile("rb")), daemon=True)
        drain.start()
        big = {"event": "exited", "detail": "x" * 20_000}  # fills a socket in a few events
        finished = threading.Event()
        publisher = threading.Thread(target=lambda: (
            [hub.publish({**big, "n": n}) for n in range(100)], finished.set()), daemon=True)
        publisher.start()
        assert finished.wait(10)  # (without the send timeout: blocked on the full socket)
        assert stalled.fileno() == -1  # dropped (closed)
        reader.shutdown(socket.SHUT_WR)  # the end of the reader's stream
        drain.join(5)
        assert [json.loads(line)["n"] for line in received] == list(range(100))


def test_a_supervisor_that_fails_to_start_is_reported_with_its_error_output(
        state_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What the supervisor wrote on its standard error before it could log (an import
    failing, say) reaches its log and the error the command reports: a test's state root is
    often gone before anyone can read the file."""
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'ModuleNotFoundError: no module named x' >&2\nexit 3\n")
    python.chmod(0o755)
    monkeypatch.setattr("sys.executable", str(python))
    with pytest.raises(client.SupervisorError) as failed:
        client.ensure_supervisor("broken")
    message = str(failed.value)
    assert "it ended before it was ready" in message
    assert "| ModuleNotFoundError: no module named x" in message
    assert "ModuleNotFoundError" in client.log_path("broken").read_text()
