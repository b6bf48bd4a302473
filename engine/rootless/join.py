"""Join the rootless namespaces (starting them if needed), ask the daemon, stop it when idle.

``enter()`` is called early by every non-root command that uses the engine, while the process is
still single-threaded (setns into a user namespace requires that). Afterwards the process is root
in the user namespace and the rootful code path runs unchanged.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from engine.errors import EngineError
from engine.paths import ROOT_ENV, ensure_dir, state_root
from engine.procstat import running, start_time
from engine.rootless import detect, nsutil, subids
from engine.rootless.daemon import DAEMON_PID, PASTA_PID, PAUSE_PID, SOCKET, wait_gone

log = logging.getLogger(__name__)

START_TIMEOUT = 30.0
NAMESPACES = (("user", nsutil.CLONE_NEWUSER), ("mnt", nsutil.CLONE_NEWNS),
              ("net", nsutil.CLONE_NEWNET))


def enter() -> None:
    """As a non-root user: join this state root's rootless namespaces (no-op as root)."""
    if os.geteuid() == 0:
        return
    root = state_root()
    ns_dir = detect.namespace_dir(root)
    pid = ensure_running(ns_dir)
    ensure_dir(root, 0o700)
    fds = [(os.open(f"/proc/{pid}/ns/{name}", os.O_RDONLY | os.O_CLOEXEC), flag, name)
           for name, flag in NAMESPACES]
    cwd = os.getcwd()
    try:
        _join(fds, pid)
    finally:
        for fd, _, _ in fds:
            os.close(fd)
    os.chdir(cwd)  # joining a mount namespace moves the cwd to its root
    detect.reset()
    os.environ[ROOT_ENV] = str(root)  # children agree on the root whatever their HOME
    os.environ.setdefault("XTABLES_LOCKFILE", str(root / "run" / "xtables.lock"))


def _join(fds: list[tuple[int, int, str]], pid: int) -> None:
    for fd, flag, name in fds:
        try:
            nsutil.setns(fd, flag, f"{name} namespace of pid {pid}")
        except EngineError as e:
            if flag == nsutil.CLONE_NEWUSER and "errno 22" in str(e):
                raise EngineError("cannot join the rootless user namespace from a process that "
                                  "already runs threads: use the engine before starting any",
                                  step="rootless", obj="join") from e
            raise


def ensure_running(ns_dir: Path) -> int:
    """The pid of the pause process of ``ns_dir``, starting the daemon if none is alive."""
    pid = alive_pause(ns_dir)
    if pid:
        return pid
    subids.mapping(detect.host_uid(), os.getgid())  # set-up errors name the fix, and come
    subids.helper("newuidmap")  # before anything is created
    subids.helper("newgidmap")
    ensure_dir(ns_dir.parent, 0o700)
    ensure_dir(ns_dir, 0o700)
    with _locked(ns_dir / "lock"):
        pid = alive_pause(ns_dir)
        if pid:
            return pid
        _clear_stale(ns_dir)
        return _start_daemon(ns_dir)


def alive_pause(ns_dir: Path) -> int:
    """The recorded pause pid if that process still runs (0 otherwise)."""
    try:
        pid_text, started = (ns_dir / PAUSE_PID).read_text().split()
        pid = int(pid_text)
    except (OSError, ValueError):
        return 0
    if start_time(pid) != int(started) or not (ns_dir / SOCKET).exists() or not running(pid):
        return 0
    return pid


def _clear_stale(ns_dir: Path) -> None:
    """A set whose daemon or pause process died (SIGKILL, OOM): end its pasta, which would
    otherwise keep the old network namespace, and forget its files."""
    pasta = _pid_in(ns_dir / PASTA_PID)
    if pasta:
        try:
            cmdline = Path(f"/proc/{pasta}/cmdline").read_bytes()
        except OSError:
            cmdline = b""
        if str(ns_dir).encode() in cmdline:  # ours: its --pid file is in ns_dir
            with contextlib.suppress(OSError):
                os.kill(pasta, 9)
    for name in (SOCKET, PAUSE_PID, PASTA_PID, DAEMON_PID):
        (ns_dir / name).unlink(missing_ok=True)
    _end_orphans(state_root())


def _end_orphans(root: Path) -> None:
    """Processes left in a dead set's user namespace (supervisors, shims, containers) cannot be
    reached from a new one: end them, so ``down`` and the next ``up`` start from a clean slate
    (the records stay; the containers show as exited)."""
    mine = os.readlink("/proc/self/ns/user")
    wanted = f"{ROOT_ENV}={root}".encode()
    stale = {ns for pid, ns in _user_processes() if ns != mine and wanted in _environ(pid)}
    victims = [pid for pid, ns in _user_processes() if ns in stale]
    if victims:
        log.warning("the rootless namespaces of %s were gone (their daemon was killed): "
                    "ending the %d processes left in them", root, len(victims))
    for pid in victims:
        with contextlib.suppress(OSError):
            os.kill(pid, 9)


def _user_processes() -> list[tuple[int, str]]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                found.append((int(entry.name), os.readlink(f"/proc/{entry.name}/ns/user")))
    return found


def _environ(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return b""


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _start_daemon(ns_dir: Path) -> int:
    with open(ns_dir / "daemon.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine.rootless.daemon", str(ns_dir)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log,
                                start_new_session=True, cwd="/")
    assert proc.stdout is not None
    line = proc.stdout.readline().decode().strip()
    proc.stdout.close()
    word, _, rest = line.partition(" ")
    if word == "ready":
        return int(rest)
    proc.wait()
    detail = rest or f"exited with {proc.returncode}; see {ns_dir / 'daemon.log'}"
    raise EngineError(detail, step="rootless", obj="start namespaces")


def request(message: dict[str, Any], ns_dir: Path | None = None) -> dict[str, Any]:
    """One request to this state root's daemon; its JSON reply."""
    ns_dir = ns_dir or detect.namespace_dir(state_root())
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(30)
        try:
            conn.connect(str(ns_dir / SOCKET))
            conn.sendall(json.dumps(message).encode() + b"\n")
            reply = conn.makefile("rb").readline()
        except OSError as e:
            raise EngineError(f"the rootless daemon does not answer: {e}", step="rootless",
                              obj=str(ns_dir)) from e
    return dict(json.loads(reply or b"{}"))


def stop(ns_dir: Path | None = None) -> bool:
    """Stop the daemon, pasta and the pause process of this state root; False if none ran."""
    ns_dir = ns_dir or detect.namespace_dir(state_root())
    if not (ns_dir / SOCKET).exists():
        return False
    pids = [_pid_in(ns_dir / name) for name in (DAEMON_PID, PASTA_PID, PAUSE_PID)]
    with contextlib.suppress(EngineError):
        request({"op": "stop"}, ns_dir)
    for pid in pids:  # return once every process of the set is gone
        if pid:
            wait_gone(pid)
    shutil.rmtree(ns_dir, ignore_errors=True)  # logs and the lock: nothing of ours is left
    with contextlib.suppress(OSError):
        ns_dir.parent.rmdir()  # the user's runtime directory, when no other state root uses it
    return True


def _pid_in(path: Path) -> int:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def release() -> bool:
    """After ``down``: stop this state root's namespaces once no container and no network of it
    is left (True if stopped). The check and the stop happen under the start lock."""
    if not detect.in_user_namespace():
        return False
    ns_dir = detect.namespace_dir(state_root())
    with _locked(ns_dir / "lock"):
        if _objects_left():
            return False
        return stop(ns_dir)


def _objects_left() -> bool:
    import sqlite3

    from engine.store import db_path

    path = db_path()
    if not path.exists():
        return False
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        for table in ("containers", "net_networks"):
            try:
                if conn.execute(f"SELECT 1 FROM {table} LIMIT 1").fetchone():  # noqa: S608
                    return True
            except sqlite3.OperationalError:
                continue  # the table was never created
    finally:
        conn.close()
    return False
