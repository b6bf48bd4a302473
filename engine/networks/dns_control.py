"""Client side of the DNS daemon: start it on demand and ask it to re-read the store."""
from __future__ import annotations

import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from engine import warm
from engine.networks.model import NetworkError
from engine.paths import ensure_dir, state_root
from engine.unixaddr import unix_address

log = logging.getLogger(__name__)

TIMEOUT = 30.0


def run_dir() -> Path:
    return state_root() / "run"


def socket_path() -> Path:
    return run_dir() / "dnsd.sock"


def pid_path() -> Path:
    return run_dir() / "dnsd.pid"


def log_path() -> Path:
    return run_dir() / "dnsd.log"


def request(message: dict[str, Any], *, start: bool) -> dict[str, Any] | None:
    """Send one request; start the daemon first if ``start`` and it is not running.

    Returns None when the daemon is not running and ``start`` is False.
    """
    # The daemon may be exiting (last sandbox gone, or killed) as we connect: retry a few
    # times; a new daemon cannot take the pid-file lock until the old one is gone.
    for attempt in range(50):
        try:
            return _send(message)
        except _NOT_LISTENING:
            if not start:
                return None
            if _spawn_once() == "busy":
                time.sleep(0.02 * min(attempt + 1, 5))
    raise NetworkError("DNS daemon does not answer", step="dns", obj=str(socket_path()))


_NOT_LISTENING = (FileNotFoundError, ConnectionRefusedError, ConnectionResetError,
                  BrokenPipeError)


def start_early() -> None:
    """Start the daemon now if it is not listening (called by create_sandbox). It reports
    "ready" before its slow imports (dnspython, python-iptables: ~0.3 s), so those overlap
    the veth setup instead of delaying the first ``connect``'s sync. Synchronous on purpose:
    a background spawn could outlive the sandbox it was started for."""
    if not _listening():
        _spawn_once()


def _spawn_once() -> str:
    """Spawn the daemon unless someone else just did: ``up`` connects many containers at once
    (threads of one CLI, or several CLIs), and each spawning its own interpreter only to find
    the pid file taken cost ~0.3 s per container on 2 cores."""
    ensure_dir(run_dir())
    fd = os.open(run_dir() / "dnsd.spawn.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        if _listening():
            return "ready"
        return spawn()
    finally:
        os.close(fd)


def _listening() -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            with unix_address(socket_path()) as address:
                sock.connect(address)
        except _NOT_LISTENING:
            return False
    return True


def _send(message: dict[str, Any]) -> dict[str, Any]:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(TIMEOUT)
        with unix_address(socket_path()) as address:
            sock.connect(address)
        sock.sendall(json.dumps(message).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    reply: dict[str, Any] = json.loads(data)
    if not reply.get("ok"):
        raise NetworkError(str(reply.get("error")), step="dns", obj="dnsd")
    return reply


def sync(*, start: bool) -> dict[str, Any] | None:
    """Tell the daemon the store changed (sandboxes, endpoints, active flags)."""
    return request({"op": "sync"}, start=start)


def spawn() -> str:
    """Start the daemon detached and wait until it listens (or another one already does)."""
    ensure_dir(run_dir())
    read_fd, write_fd = os.pipe()
    env = {**os.environ, "PYCOMPOSE_DNSD_READY_FD": str(write_fd)}
    try:
        with open(log_path(), "ab") as logf, open(os.devnull, "rb") as devnull:
            if not warm.spawn_python(["-m", "engine.networks.dnsd"], env,
                                     (devnull.fileno(), logf.fileno(), logf.fileno()),
                                     (write_fd,)):
                proc = subprocess.Popen([sys.executable, "-P", "-m", "engine.networks.dnsd"],
                                        env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                        stderr=logf, pass_fds=(write_fd,),
                                        start_new_session=True, cwd="/")
                proc.wait()  # the daemon forks; this reaps the intermediate process
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as ready:
        word = ready.readline().strip()
    if word not in (b"ready", b"busy"):
        raise NetworkError(f"DNS daemon failed to start (see {log_path()})", step="start dnsd")
    return word.decode()


def daemon_pid() -> int | None:
    """The running daemon's pid, if its pid file names a live process."""
    try:
        pid = int(pid_path().read_text().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def stop(wait: float = 5.0) -> None:
    """Stop the daemon (used by sweeps; SIGTERM by pid if it does not answer) and wait until
    it has exited (it holds a flock on its pid file for its whole life)."""
    try:
        lock = os.open(pid_path(), os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        try:
            request({"op": "stop"}, start=False)
        except NetworkError:
            pid = daemon_pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
        wait_unlocked(lock, wait)
    finally:
        os.close(lock)


def wait_unlocked(fd: int, timeout: float) -> bool:
    """Wait until nobody holds a flock on ``fd`` (the daemon has exited)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.01)
    return False


def stop_idle_dns() -> bool:
    """Stop the daemon if no sandbox of this state root remains (one spawned for a sandbox
    whose creator was killed would otherwise wait to be told); True if none is left."""
    from engine.networks import state

    if state.db().execute("SELECT 1 FROM net_sandboxes LIMIT 1").fetchone() is not None:
        return False
    stop()
    return True
