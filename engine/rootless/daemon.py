"""The rootless daemon (``python -m engine.rootless.daemon NS_DIR``): one per state root, in the
host's namespaces, started detached by the first non-root CLI that needs the engine.

It forks the pause process into a new user namespace, maps the user and the subordinate ranges
with newuidmap/newgidmap, lets it create its mount and network namespaces, starts pasta for
outbound traffic, then answers requests on ``NS_DIR/daemon.sock`` (one JSON line in, one out):
``ping``, ``set`` (the published ports of one container) and ``stop``. Its first stdout line is
``ready <pause pid>`` or ``error <message>``.
"""
from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.fdwait import readable
from engine.procstat import start_time
from engine.rootless import forwards, hostnet, nsutil, pause, subids

PAUSE_PID = "pause.pid"
PASTA_PID = "pasta.pid"
DAEMON_PID = "daemon.pid"
SOCKET = "daemon.sock"
PASTA_ARGS = ["--config-net", "--quiet", "--no-map-gw", "--ipv4-only",
              "-t", "none", "-u", "none", "-T", "none", "-U", "none"]


def main(argv: list[str]) -> int:
    """Set the namespaces up, report on stdout, then serve until stopped."""
    ns_dir = Path(argv[0])
    try:
        mapping = subids.mapping(os.getuid(), os.getgid())
        tools = (subids.helper("newuidmap"), subids.helper("newgidmap"))
        ctl, child_ctl = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = _fork_pause(mapping, tools, child_ctl)
        child_ctl.close()
        pasta = _start_pasta(pid, ns_dir)
        server = _listen(ns_dir / SOCKET)
    except EngineError as e:
        print(f"error {e}", flush=True)
        return 1
    (ns_dir / PAUSE_PID).write_text(f"{pid} {start_time(pid)}\n")
    (ns_dir / DAEMON_PID).write_text(f"{os.getpid()}\n")
    print(f"ready {pid}", flush=True)
    _detach_stdio(ns_dir)
    try:
        _serve(server, forwards.Table(ctl), pid)
    finally:
        _shutdown(ns_dir, pid, pasta)
    return 0


def _fork_pause(mapping: subids.Mapping, tools: tuple[str, str], ctl: socket.socket) -> int:
    up_r, up_w = os.pipe()
    down_r, down_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the pause process
        try:
            os.close(up_r)
            os.close(down_w)
            _become_pause(up_w, down_r, ctl)
        finally:
            os._exit(1)
    os.close(up_w)
    os.close(down_r)
    with os.fdopen(up_r, "rb", 0) as up, os.fdopen(down_w, "wb", 0) as down:
        if up.read(1) != b"u":
            raise EngineError("the pause process could not create a user namespace",
                              step="rootless")
        _map_ids(pid, mapping, tools)
        down.write(b"m")
        if up.read(1) != b"r":
            raise EngineError("the pause process could not create its mount and network "
                              "namespaces (see daemon.log)", step="rootless")
    return pid


def _become_pause(up_w: int, down_r: int, ctl: socket.socket) -> None:
    nsutil.die_with_parent(signal.SIGKILL)
    nsutil.unshare(nsutil.CLONE_NEWUSER)
    os.write(up_w, b"u")
    if os.read(down_r, 1) != b"m":
        os._exit(1)
    os.setgroups([])
    nsutil.unshare(nsutil.CLONE_NEWNS | nsutil.CLONE_NEWNET)
    nsutil.make_rslave()
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    os.write(up_w, b"r")
    os.close(up_w)
    os.close(down_r)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    pause.serve(ctl)


def _map_ids(pid: int, mapping: subids.Mapping, tools: tuple[str, str]) -> None:
    for tool, own, sub in ((tools[0], mapping.uid, mapping.uids),
                           (tools[1], mapping.gid, mapping.gids)):
        done = subprocess.run([tool, *subids.map_args(pid, own, sub)], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise EngineError(f"{Path(tool).name} failed: {done.stderr.strip()}",
                              step="rootless")


def _start_pasta(pid: int, ns_dir: Path) -> int:
    """Start pasta for the pause's network namespace; it forks to the background once the
    interface, address and routes are configured, so the namespace is ready on return."""
    pid_file = ns_dir / PASTA_PID
    pid_file.unlink(missing_ok=True)
    with open(ns_dir / "pasta.log", "ab") as log:
        try:
            done = subprocess.run(["pasta", *PASTA_ARGS, "--pid", str(pid_file),
                                   "--netns", f"/proc/{pid}/ns/net",
                                   "--userns", f"/proc/{pid}/ns/user"],
                                  stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=30)
        except FileNotFoundError as e:
            raise subids.RootlessSetupError("pasta not found: install the passt package "
                                            "(apt-get install passt)", step="rootless") from e
    try:
        return int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError) as e:
        raise EngineError(f"pasta exited with {done.returncode} without starting (see "
                          f"{ns_dir / 'pasta.log'})", step="rootless") from e


def _listen(path: Path) -> socket.socket:
    path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    return server


def _detach_stdio(ns_dir: Path) -> None:
    fd = os.open(os.devnull, os.O_RDWR)
    os.dup2(fd, 0)
    os.dup2(fd, 1)
    os.close(fd)


def _serve(server: socket.socket, table: forwards.Table, pid: int) -> None:
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ, "client")
    sel.register(os.pidfd_open(pid), selectors.EVENT_READ, "pause")
    sel.register(table.ctl, selectors.EVENT_READ, "pause")
    while True:
        for key, _ in sel.select():
            if key.data == "pause":
                return  # the pause process is gone: nothing left to serve
            conn, _ = server.accept()
            with conn:
                if _answer(conn, table) == "stop":
                    return


def _answer(conn: socket.socket, table: forwards.Table) -> str:
    conn.settimeout(10)
    try:
        request: dict[str, Any] = json.loads(conn.makefile("rb").readline() or b"{}")
    except (OSError, ValueError):
        return ""
    op = request.get("op", "")
    reply: dict[str, Any] = {"ok": True}
    fds: list[int] = []
    if op == "set":
        reply = table.apply(str(request["container"]), request.get("ports") or [])
    elif op == "connect":
        reply, fds = hostnet.connect_for(request)
    elif op not in ("ping", "stop"):
        reply = {"error": f"unknown request {op!r}"}
    try:
        socket.send_fds(conn, [json.dumps(reply).encode() + b"\n"], fds)
    except OSError:
        pass
    finally:
        for fd in fds:
            os.close(fd)
    return op


def _shutdown(ns_dir: Path, pid: int, pasta: int) -> None:
    for victim in (pasta, pid):
        try:
            os.kill(victim, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
    wait_gone(pasta)
    for name in (SOCKET, PAUSE_PID, PASTA_PID, DAEMON_PID):
        (ns_dir / name).unlink(missing_ok=True)


def wait_gone(pid: int, timeout: float = 5.0) -> None:
    """Wait for a process that is not our child (pasta daemonized) to exit."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable([fd], timeout)
    finally:
        os.close(fd)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
