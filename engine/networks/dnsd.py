"""The engine-wide embedded DNS daemon: ``python -m engine.networks.dnsd``.

Why one daemon per state root rather than a thread in the CLI or in each project's supervisor:
networks can be shared between projects (external networks), the CLI is short-lived, and one
process serving every sandbox is the cheapest. It is started on demand by ``connect`` (see
dns_control.py), keeps a pid file (flocked for its lifetime) and a unix control socket under
``state_root()/run/``, and exits when no sandbox with an endpoint remains. The store is the
source of truth: the only control request that matters is ``sync`` (dns_server.py).

Start-up order matters for ``up`` speed: this module imports almost nothing, takes the pid-file
lock, binds and listens on the control socket and reports "ready" *before* importing the server
(dnspython, python-iptables: ~0.3 s). Clients that connect meanwhile wait in the listen backlog;
their ``sync`` is answered once the sandboxes' sockets exist, so the reply still means "names
resolve".
"""
from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import sys

from engine import warm
from engine.networks import dns_control
from engine.paths import ensure_dir
from engine.unixaddr import unix_address

log = logging.getLogger(__name__)


def _daemonize() -> None:
    """Fork once more so the spawner can reap our parent (unless the warm engine forked us
    detached already); detach stdin."""
    if not warm.detached:
        if os.fork() > 0:
            os._exit(0)
        os.setsid()
    os.chdir("/")  # do not pin the spawner's working directory
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)


def _lock_pid_file() -> int | None:
    """Open and flock the pid file; None when another daemon holds it.

    A daemon that is exiting unlinks its pid file and then releases the lock: a newcomer that
    opened the old file in between would lock an unlinked inode and run invisibly (no pid
    file, so nobody can stop it, and the next daemon would not see it). So the locked file must
    still be the one at the path; otherwise try again on the new one."""
    path = dns_control.pid_path()
    for _ in range(100):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)
    return None


def _listen() -> socket.socket:
    path = dns_control.socket_path()
    path.unlink(missing_ok=True)
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    with unix_address(path) as address:
        control.bind(address)
    control.listen(128)
    return control


def main() -> int:
    """Daemon entry point; reports readiness on the fd in PYCOMPOSE_DNSD_READY_FD."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s dnsd %(levelname)s %(message)s")
    ready_env = os.environ.get("PYCOMPOSE_DNSD_READY_FD")
    ready_fd = int(ready_env) if ready_env else None
    if "--foreground" not in sys.argv:
        _daemonize()
    run_dir = ensure_dir(dns_control.run_dir())
    lock = _lock_pid_file()
    if lock is None:
        _report(ready_fd, "busy")
        return 0
    os.ftruncate(lock, 0)
    os.write(lock, f"{os.getpid()}\n".encode())
    signal.signal(signal.SIGTERM, _exit_on_signal)
    control = _listen()
    heard = _report(ready_fd, "ready")
    daemon = None
    try:
        from engine.networks.dns_server import Daemon  # the slow imports, after "ready"

        daemon = Daemon(run_dir, control)
        daemon.sync()
        if heard:  # started for a sandbox that is about to be announced
            daemon.stopping = False
        # else its spawner was killed (a killed `up`): with no sandbox it leaves now, as a
        # `down` that ran before it listened could not tell it to
        daemon.serve()
    finally:
        if daemon is not None:
            daemon.shutdown()
        else:
            control.close()
            dns_control.socket_path().unlink(missing_ok=True)
        os.unlink(dns_control.pid_path())
    return 0


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _report(fd: int | None, word: str) -> bool:
    """Tell the spawner; False when it is gone (killed meanwhile)."""
    if fd is None:
        return True
    try:
        os.write(fd, word.encode() + b"\n")
    except OSError:
        return False
    finally:
        os.close(fd)
    return True


if __name__ == "__main__":
    sys.exit(main())
