"""The per-project supervisor: healthchecks, restart policies, events for the CLI.

One process per project, started detached by the CLI (see :mod:`compose.orchestrator.client`).
It is *not* the parent of the containers (each has its own engine shim), so killing it — even
with SIGKILL — leaves containers running; the next CLI command starts a new supervisor that
re-adopts them from the ``supervised`` rows of the store.

Per watched container two threads run:

- the exit watcher blocks in the engine's ``wait`` (no polling), publishes ``exited``, and applies
  the restart policy (docker's back-off) unless the user stopped the container;
- the health loop sleeps until the next probe is due, runs the probe with ``exec`` (bounded by
  the timeout), feeds the state machine and publishes ``healthy``/``unhealthy`` on changes.

The JSON-lines socket protocol (one request per line, one reply line; ``subscribe`` then streams
events until the client disconnects)::

    {"op": "ping"}                          -> {"ok": true, "pid": N}
    {"op": "watch", "container": ID}        -> {"ok": true}   (re-reads the store row)
    {"op": "publish", "event": {...}}       -> {"ok": true}   (fanned out to subscribers:
                                               lifecycle steps the CLI performs itself)
    {"op": "subscribe", "since": EPOCH?,    -> {"ok": true}, then event lines (with "since",
     "until": EPOCH?}                          first the kept recent ones from that time, or
                                               all of them with "until" alone; an "until"
                                               already past ends the stream there):
        {"event": "started|healthy|unhealthy|exited|restarting", "container": ID,
         "service": S, "name": N, "exit_code": C, "detail": TEXT, "time": EPOCH,
         "will_restart": BOOL}   (on "exited": the restart policy will start it again)
        the CLI publishes "created|started|stopped|killed|paused|unpaused|destroyed" too
        (same fields; "killed" has "signal")
    {"op": "shutdown"}                      -> {"ok": true}   (the process exits)
"""
from __future__ import annotations

import collections
import json
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from compose.orchestrator import state
from compose.orchestrator.health import (
    HealthConfig,
    HealthState,
    HealthStatus,
    ProbeResult,
    next_probe_delay,
    record_probe,
    timeout_result,
)
from compose.orchestrator.restart import RestartState, decide_restart, restarts_on_adoption

log = logging.getLogger(__name__)


class ContainerOps(Protocol):
    """The engine calls the supervisor needs (the real one wraps engine.containers)."""

    def wait(self, cid: str) -> int: ...  # blocks until the container exits; exit code
    def start(self, cid: str) -> None: ...
    def note_restart(self, cid: str) -> None: ...  # count a policy restart (RestartCount)
    def remove(self, cid: str) -> None: ...  # a one-off container of run --rm -d, exited
    def is_running(self, cid: str) -> bool: ...
    def probe(self, cid: str, argv: tuple[str, ...], timeout: float) -> tuple[int, str] | None:
        ...  # None when the probe timed out
    def prepare(self) -> None: ...  # load what the calls above need, before the first one


@dataclass(slots=True)
class _Watch:
    """The supervisor's watch over one container's current run."""
    row: state.Supervised
    stop: threading.Event
    started: float  # wall clock of the current run (health start_period counts from here)
    health_stop: threading.Event | None = None


Publisher = Callable[[dict[str, Any]], None]


class Supervisor:
    """Watches containers of one project (thread-safe; no sockets here)."""

    def __init__(self, project: str, ops: ContainerOps, publish: Publisher) -> None:
        self.project = project
        self.ops = ops
        self.publish = publish
        self._lock = threading.Lock()
        self._watches: dict[str, _Watch] = {}

    def adopt_all(self) -> None:
        """Re-adopt every container of the project recorded in the store."""
        for row in state.for_project(self.project):
            self.watch(row.container_id, adopting=True)

    def watch(self, cid: str, adopting: bool = False) -> None:
        """Start (or restart) supervision of a container from its store row."""
        row = state.get(cid)
        if row is None:
            log.warning("watch %s: not in the store", cid)
            return
        with self._lock:
            old = self._watches.pop(cid, None)
            if old is not None:
                old.stop.set()
                if old.health_stop:
                    old.health_stop.set()
            w = _Watch(row, threading.Event(), time.time())
            self._watches[cid] = w
        running = self.ops.is_running(cid)
        if not running and adopting:
            if row.stopped_by_user or not restarts_on_adoption(row.restart):
                return
            self._restart_now(w)
        threading.Thread(target=self._exit_loop, args=(w,), name=f"wait-{row.name}",
                         daemon=True).start()
        self._start_health(w)

    def unwatch_all(self) -> None:
        """Stop every thread (used at shutdown; containers keep running)."""
        with self._lock:
            for w in self._watches.values():
                w.stop.set()
                if w.health_stop:
                    w.health_stop.set()
            self._watches.clear()

    def _event(self, w: _Watch, kind: str, exit_code: int | None = None, detail: str = "",
               will_restart: bool = False) -> None:
        self.publish({"event": kind, "container": w.row.container_id, "service": w.row.service,
                      "name": w.row.name, "exit_code": exit_code, "detail": detail,
                      "will_restart": will_restart, "time": time.time()})

    def _start_health(self, w: _Watch) -> None:
        if w.row.health is None:
            return
        w.health_stop = threading.Event()
        state.update(w.row.container_id, health_status=HealthStatus.STARTING.value,
                     health_output="")
        threading.Thread(target=self._health_loop, args=(w, w.row.health, w.health_stop),
                         name=f"health-{w.row.name}", daemon=True).start()

    def _health_loop(self, w: _Watch, cfg: HealthConfig, stop: threading.Event) -> None:
        hs = HealthState()
        while True:
            if stop.wait(next_probe_delay(hs, cfg, time.time(), w.started)):
                return
            began = time.time()
            res = self.ops.probe(w.row.container_id, cfg.argv, cfg.timeout)
            ended = time.time()
            if res is None:
                log.warning("%s: health probe killed after its timeout (%gs)", w.row.name,
                            cfg.timeout)
            result = (timeout_result(cfg, began, ended) if res is None
                      else ProbeResult(res[0], res[1], began, ended))
            if stop.is_set():
                return
            before = hs.status
            hs = record_probe(hs, cfg, result, w.started)
            if hs.status is not before:
                log.info("%s: %s (%s)", w.row.name, hs.status.value, hs.last_output()[:200])
                state.update(w.row.container_id, health_status=hs.status.value,
                             health_output=hs.last_output())
                self._event(w, hs.status.value, detail=hs.last_output())

    def _exit_loop(self, w: _Watch) -> None:
        rs = RestartState(count=w.row.restart_count)
        while not w.stop.is_set():
            code = self.ops.wait(w.row.container_id)
            ran_for = time.time() - w.started
            if w.health_stop:
                w.health_stop.set()
            if w.stop.is_set():
                return
            log.info("%s exited with code %d after %.1fs", w.row.name, code, ran_for)
            row = state.get(w.row.container_id)
            decision = (decide_restart(row.restart, rs, code, ran_for, row.stopped_by_user)
                        if row is not None else None)
            will_restart = decision is not None and decision.restart
            self._event(w, "exited", exit_code=code, will_restart=will_restart)
            if row is not None and row.restart.auto_remove:
                self._remove(w)
                return
            if decision is None or not decision.restart:
                return
            rs = decision.state
            if w.stop.wait(decision.delay):
                return
            row = state.get(w.row.container_id)
            if row is None or row.stopped_by_user:
                return
            state.update(row.container_id, restart_count=rs.count)
            self.ops.note_restart(row.container_id)
            self._event(w, "restarting", detail=f"restart {rs.count}")
            self._restart_now(w)
            self._start_health(w)

    def _remove(self, w: _Watch) -> None:
        """``run --rm -d``: the exited container goes, as docker's AutoRemove does."""
        try:
            self.ops.remove(w.row.container_id)
        except Exception as exc:  # e.g. a down removing it at the same time
            log.info("auto-remove of %s: %s", w.row.name, exc)
        state.delete(w.row.container_id)

    def _restart_now(self, w: _Watch) -> None:
        try:
            self.ops.start(w.row.container_id)
        except Exception as exc:  # the container may have been removed meanwhile
            log.warning("restart %s failed: %s", w.row.name, exc)
            w.stop.set()
            return
        w.started = time.time()
        self._event(w, "started")


_TIMEVAL = struct.Struct("@ll")  # struct timeval (seconds, microseconds)


class EventHub:
    """Fans events out to subscribed sockets (a slow or dead subscriber is dropped) and keeps
    the last ``HISTORY`` events for ``events --since`` (dockerd keeps a log the same way)."""

    HISTORY = 1000
    # A subscriber that stops reading (``events | less``, paused) fills its socket: a send
    # that waits this long drops it, instead of stalling every publish (health, exits, the
    # CLI's lifecycle events) behind it. dockerd gives a subscriber 100 ms per event.
    SEND_TIMEOUT_S = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: list[socket.socket] = []
        self._recent: collections.deque[tuple[float, bytes]] = collections.deque(
            maxlen=self.HISTORY)

    def add(self, sock: socket.socket, since: float | None = None,
            until: float | None = None, greeting: bytes = b"") -> bool:
        """Subscribe ``sock``: send ``greeting`` (the reply that tells the subscriber no event
        is missed from then on: no publish comes between it and the subscription), and with
        ``since`` or ``until`` replay the kept events from ``since`` (else all, like dockerd)
        up to ``until``. False when the stream is complete already: ``until`` has passed, so
        only the replay was wanted and ``sock`` was not subscribed."""
        start = 0.0 if since is None and until is not None else since
        with self._lock:
            try:  # (the kernel's send timeout: reads, where the handler parks, keep none)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, _TIMEVAL.pack(
                    int(self.SEND_TIMEOUT_S), int(self.SEND_TIMEOUT_S % 1 * 1_000_000)))
                sock.sendall(greeting)
                for when, line in self._recent:
                    if start is not None and start <= when and (until is None or when <= until):
                        sock.sendall(line)
            except OSError:
                sock.close()
                return False
            if until is not None and until <= time.time():
                return False
            self._subs.append(sock)
            return True

    def publish(self, event: dict[str, Any]) -> None:
        line = (json.dumps(event) + "\n").encode()
        with self._lock:
            self._recent.append((float(event.get("time") or time.time()), line))
            alive = []
            for s in self._subs:
                try:
                    s.sendall(line)
                    alive.append(s)
                except OSError:
                    s.close()
            self._subs = alive
