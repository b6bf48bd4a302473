"""The embedded DNS server loop run by the daemon (see dnsd.py for why a daemon).

For each sandbox it creates, *inside the sandbox's netns* (a setns'd helper thread), a UDP and a
TCP socket on 127.0.0.11:<random port> and DNATs 127.0.0.11:53 to them there, so the container
keeps port 53 for itself. A restarted daemon re-adopts every sandbox the same way. Queries are
served here, in the host namespace, so forwarding uses the host's resolvers.
"""
from __future__ import annotations

import json
import logging
import os
import selectors
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from engine.networks import dns_control, firewall, upstream
from engine.networks.directory import Directory, load_directory
from engine.networks.netns import run_in_netns
from engine.networks.zone import Zone

if TYPE_CHECKING:
    import dns.message

    from engine.networks import resolver


def load_resolver() -> None:
    """Import the wire-format code (dnspython, ~0.1 s). Deferred until the first query or the
    first idle moment once a sandbox is served: the control requests that start-up keeps
    ``connect`` waiting for (open the sandbox's sockets, DNAT) do not need it."""
    global resolver
    from engine.networks import resolver

log = logging.getLogger(__name__)

DNS_IP = "127.0.0.11"
MAX_VARIANTS = 16
ORPHAN_CHECK_S = 60.0  # idle interval after which we check that someone can still use us
UNUSED_EXIT_S = 5.0  # idle with no sandbox at all for this long: exit
_CONTROL_BATCH = 64  # control requests answered together at most
# Rendered answers are cached per (sandbox, query minus id); 0 disables (to benchmark the
# dnspython path). The cache is dropped on every sync, so it never outlives a change.
def cache_limit() -> int:
    """The answer cache's size (read by each daemon when it starts, not at import: a daemon
    forked by the warm engine has the environment of the command that started it)."""
    return int(os.environ.get("PYCOMPOSE_DNSD_CACHE", "50000"))


@dataclass(slots=True)
class Listener:
    """The DNS sockets the server listens on inside one container."""
    container_id: str
    path: str
    udp: socket.socket
    tcp: socket.socket


def open_sockets(path: str, prefer: tuple[int, int] = (0, 0)
                 ) -> tuple[socket.socket, socket.socket]:
    """Create the UDP and TCP sockets inside the sandbox at ``path``, on the ``prefer``red
    ports when they are free there (else on any: 0)."""

    def bound(kind: int, port: int) -> socket.socket:
        sock = socket.socket(socket.AF_INET, kind)
        try:
            if kind == socket.SOCK_STREAM:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((DNS_IP, port))
            except OSError:
                if not port:
                    raise
                sock.bind((DNS_IP, 0))
        except BaseException:
            sock.close()
            raise
        return sock

    def body() -> tuple[socket.socket, socket.socket]:
        udp = bound(socket.SOCK_DGRAM, prefer[0])
        try:
            tcp = bound(socket.SOCK_STREAM, prefer[1])
            tcp.listen(64)
        except BaseException:
            udp.close()
            raise
        return udp, tcp

    udp, tcp = run_in_netns(path, body)
    udp.setblocking(False)
    tcp.setblocking(False)
    return udp, tcp


@dataclass(slots=True)
class Answer:
    """A locally answered question: its rendered rotations (filled lazily)."""

    query: dns.message.Message
    zone: Zone
    variants: list[bytes | None]
    counter: int


class Daemon:
    def __init__(self, run_dir: Path, control: socket.socket) -> None:
        self.run_dir = run_dir
        self.sel = selectors.DefaultSelector()
        self.listeners: dict[str, Listener] = {}
        self.ports = (0, 0)  # (udp, tcp) the listeners take where free (open_listener)
        self.directory = Directory({}, {})
        self.cache: dict[tuple[str, bytes], Answer] = {}
        self.cache_limit = cache_limit()
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="dns-forward")
        self.upstreams = upstream.configured_upstreams()
        self.stopping = False
        self.control = control  # bound and listening before the heavy imports (dnsd.py)
        self.sel.register(control, selectors.EVENT_READ, ("control", None))

    # -- control -----------------------------------------------------------------------------

    def on_control(self) -> None:
        """Answer the control requests waiting: the one that woke us and those queued behind
        it. ``up`` connects many containers at once, each asking for a ``sync``; one read of
        the store answers every ``sync`` of the batch (each read is of every endpoint, so one
        per request made a 50-container ``up`` cost 50² row reads here)."""
        batch = []
        first = self._take(self.control.accept()[0])
        if first is not None:
            batch.append(first)
        self.control.setblocking(False)
        try:
            while len(batch) < _CONTROL_BATCH:
                try:
                    conn, _ = self.control.accept()
                except BlockingIOError:
                    break
                item = self._take(conn)
                if item is not None:
                    batch.append(item)
        finally:
            self.control.setblocking(True)
        synced = self.handle({"op": "sync"}) if any(r.get("op") == "sync" for _, r in batch) \
            else None
        for conn, request in batch:
            with conn:
                reply = synced if request.get("op") == "sync" else self.handle(request)
                try:
                    conn.sendall(json.dumps(reply).encode() + b"\n")
                except OSError as exc:  # the client gave up; keep serving
                    log.debug("control reply: %s", exc)

    @staticmethod
    def _take(conn: socket.socket) -> tuple[socket.socket, dict[str, object]] | None:
        """Read one request line; None (the connection closed) for a liveness probe
        (dns_control._listening connects and closes) or a client that went away."""
        conn.settimeout(10)
        data = b""
        try:
            while not data.endswith(b"\n"):
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            if data:
                request = json.loads(data)
                if isinstance(request, dict):
                    return conn, request
        except (OSError, ValueError):
            pass
        conn.close()
        return None

    def handle(self, request: dict[str, object]) -> dict[str, object]:
        op = request.get("op")
        try:
            if op == "sync":
                self.sync()
            elif op == "stop":
                self.stopping = True
            elif op != "ping":
                return {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as exc:  # report to the caller; the daemon keeps serving
            log.exception("control %s failed", op)
            return {"ok": False, "error": str(exc)}
        return {"ok": True, "pid": os.getpid(), "sandboxes": sorted(self.listeners)}

    def sync(self) -> None:
        """Re-read the store: open sockets for new sandboxes, close removed ones."""
        directory = load_directory()
        for cid in set(self.listeners) - set(directory.sandboxes):
            self.close_listener(cid)
        for cid, path in directory.sandbox_paths.items():
            if cid not in self.listeners and Path(path).exists():
                self.open_listener(cid, path)
        self.directory = directory
        self.cache.clear()
        if not self.listeners:
            self.stopping = True

    def open_listener(self, cid: str, path: str) -> None:
        # Every sandbox's sockets on the same two ports (each netns has its own port space):
        # the redirect rules are then the same in all of them, and built once (iptables).
        udp, tcp = open_sockets(path, self.ports)
        ports = (udp.getsockname()[1], tcp.getsockname()[1])
        try:
            firewall.apply_dns_redirect(Path(path), *ports)
        except Exception:
            udp.close()
            tcp.close()
            raise
        if self.ports == (0, 0):
            self.ports = ports
        self.listeners[cid] = Listener(cid, path, udp, tcp)
        self.sel.register(udp, selectors.EVENT_READ, ("udp", cid))
        self.sel.register(tcp, selectors.EVENT_READ, ("tcp", cid))

    def close_listener(self, cid: str) -> None:
        lst = self.listeners.pop(cid)
        for sock in (lst.udp, lst.tcp):
            self.sel.unregister(sock)
            sock.close()

    # -- queries -----------------------------------------------------------------------------
    def on_udp(self, cid: str) -> None:
        lst = self.listeners.get(cid)
        if lst is None:
            return
        for _ in range(64):  # drain a burst without going back to select()
            try:
                data, addr = lst.udp.recvfrom(4096)
            except BlockingIOError:
                return
            reply = self.local_reply(cid, data)
            if reply is not None:
                lst.udp.sendto(reply, addr)
            elif len(data) >= 12:
                self.pool.submit(self.forward_udp, cid, lst.udp, data, addr)

    def local_reply(self, cid: str, data: bytes) -> bytes | None:
        """Answer from the cache or the zone; None means forward upstream."""
        entry = self.cache.get((cid, data[2:]))
        if entry is None:
            entry = self.resolve(cid, data)
            if entry is None:
                return None
        entry.counter += 1
        k = entry.counter % len(entry.variants)
        body = entry.variants[k]
        if body is None:  # render each rotation once, when first needed
            body = entry.variants[k] = resolver.answer(entry.zone, entry.query, k)[2:]  # type: ignore[index]
        return data[:2] + body

    def resolve(self, cid: str, data: bytes) -> Answer | None:
        msg = resolver.parse_query(data)
        if msg is None:
            return None
        zone = self.directory.zone(cid)
        first = resolver.answer(zone, msg, 0)
        if first is None:
            return None
        name, rdtype = resolver.question_key(msg)
        count = min(max(zone.count(name, rdtype), 1), MAX_VARIANTS)
        entry = Answer(msg, zone, [first[2:]] + [None] * (count - 1), -1)
        if self.cache_limit:
            if len(self.cache) >= self.cache_limit:
                self.cache.clear()
            self.cache[(cid, data[2:])] = entry
        return entry

    def upstreams_for(self, cid: str) -> list[upstream.Upstream]:
        """The container's own ``dns`` servers, else the host's resolvers."""
        return self.directory.upstreams.get(cid) or self.upstreams

    def forward_udp(self, cid: str, sock: socket.socket, data: bytes,
                    addr: tuple[str, int]) -> None:
        reply = upstream.forward(data, self.upstreams_for(cid), tcp=False)
        reply = reply or resolver.servfail(data)
        if reply is not None:
            try:
                sock.sendto(reply, addr)
            except OSError as exc:
                log.debug("reply to %s: %s", addr, exc)

    def on_tcp_accept(self, cid: str) -> None:
        lst = self.listeners.get(cid)
        if lst is None:
            return
        try:
            conn, _ = lst.tcp.accept()
        except BlockingIOError:
            return
        threading.Thread(target=self.serve_tcp, args=(cid, conn), daemon=True).start()

    def serve_tcp(self, cid: str, conn: socket.socket) -> None:
        with conn:
            conn.setblocking(True)
            conn.settimeout(10)
            try:
                while True:
                    data = upstream.recv_framed(conn)
                    if data is None:
                        return
                    reply = self.local_reply(cid, data)
                    if reply is None:
                        reply = upstream.forward(data, self.upstreams_for(cid), tcp=True)
                        reply = reply or resolver.servfail(data)
                    if reply is None:
                        return
                    conn.sendall(len(reply).to_bytes(2, "big") + reply)
            except OSError:
                return

    # -- main loop ---------------------------------------------------------------------------
    def serve(self) -> None:
        loaded = False  # the resolver is imported (or being imported: see below)
        ready = False  # ... and this thread has it
        while not self.stopping:
            events = self.sel.select(timeout=self._idle_check(loaded))
            if not ready and any(k.data[0] != "control" for k, _ in events):
                load_resolver()  # a query: it needs the resolver (waits for one being loaded)
                loaded = ready = True
            elif not loaded and not events and self.listeners:
                # the first idle moment once a sandbox is served: load it beside the serving,
                # whose next control requests (``start`` marks the endpoint active) would wait
                # ~20 ms behind the import; a query meanwhile waits for it (the import lock)
                threading.Thread(target=load_resolver, name="resolver", daemon=True).start()
                loaded = True
                continue
            if not events and self.orphaned():
                log.info("state root or every sandbox is gone; exiting")
                return
            for key, _ in events:
                kind, cid = key.data
                if kind == "udp":
                    self.on_udp(cid)
                elif kind == "tcp":
                    self.on_tcp_accept(cid)
                else:
                    self.on_control()

    def _idle_check(self, loaded: bool) -> float:
        """How long to wait for events before looking whether we are still needed (rarely
        while sandboxes are served; with none, a while: started for a sandbox about to be
        announced, whose creator may have been killed), or, once a sandbox is served, before
        the resolver is loaded at the first idle moment. Not before: the import took ~30 ms of
        CPU, and the ``connect`` of a starting ``up`` waited for it behind its ``sync``."""
        if not loaded and self.listeners:
            return 0.02
        return ORPHAN_CHECK_S if self.listeners else UNUSED_EXIT_S

    def orphaned(self) -> bool:
        """Nobody will ever sync us again: the state root was deleted, or every sandbox's netns
        was unmounted without telling us (a crashed test run)."""
        if not dns_control.socket_path().exists():
            return True
        return not any(Path(lst.path).exists() for lst in self.listeners.values())

    def shutdown(self) -> None:
        for cid in list(self.listeners):
            self.close_listener(cid)
        self.control.close()
        dns_control.socket_path().unlink(missing_ok=True)
        self.pool.shutdown(wait=False, cancel_futures=True)
