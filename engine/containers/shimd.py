"""The shim fork server: how every shim starts (see :mod:`engine.containers.shim`).

A caller must not fork a Python shim from itself (a multi-threaded caller's child may wait
forever on a lock another thread held; SQLite's state does not survive fork), and exec'ing a
fresh interpreter per container costs ~100 ms. The fork server is such a fresh interpreter,
started once per state root: it imports everything a shim needs, never opens the state store
(so its children get a clean SQLite and may use it), and forks one shim per request in a few
milliseconds. It exits after a short idle period.

Protocol on the socket ``<state root>/run/shimd.sock``: one JSON request
``{"cid", "runtime", "env"}`` with two SCM_RIGHTS descriptors, the start-report socket and the
caller's container lock; the server forks the shim in a new session (reaping it once it
exits; shims outlive the server), closes its copies of both descriptors and answers ``ok``.
Only callers with the server's own uid are served (SO_PEERCRED). Any failure before ``ok``
makes the caller fall back to exec'ing the shim.
"""
from __future__ import annotations

import fcntl
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from engine import procstat, warm
from engine.fdwait import readable
from engine.paths import ensure_dir, state_root
from engine.unixaddr import unix_address

_IDLE_EXIT = 15.0  # seconds without a request before the server exits
_CHECK_EVERY = 2.0
_REPLY_TIMEOUT = 10.0
_START_TIMEOUT = 10.0
MAIN = "import sys; from engine.containers import shimd; shimd.main(sys.argv)"
ENGINE_OWNED = "engine-owned"  # the last argument of a server the warm engine keeps

# Servers this process began starting with start_early(): state root -> the starting server
# (its process and the read end of its ready pipe), then whether it came up.
_early: dict[Path, tuple[subprocess.Popen[bytes] | None, int] | bool] = {}
_early_lock = threading.Lock()


def _address(root: Path) -> Path:
    """The server's socket: a file in the state root's ``run/`` (mode 0700). Not an abstract
    socket: a container sharing the host's network namespace could reach one."""
    return root / "run" / "shimd.sock"


def request_shim(cid: str, runtime_name: str, fds: tuple[int, int]) -> bool:
    """Have the fork server start the shim of ``cid`` with ``fds`` (its report socket and the
    container lock). False when the server cannot be reached or did not confirm (the caller
    falls back)."""
    root = state_root()
    try:
        _await_early(root)  # settle a start begun early (at once when it is up already)
        sock = _connect(root)
        if sock is None and _await_kept(root):
            sock = _connect(root)
        if sock is None and _start_server(root):
            sock = _connect(root)
    except OSError:
        return False
    if not sock:
        return False
    with sock:
        request = {"cid": cid, "runtime": runtime_name, "env": dict(os.environ)}
        try:
            socket.send_fds(sock, [json.dumps(request).encode()], list(fds))
            sock.settimeout(_REPLY_TIMEOUT)
            return sock.recv(16).startswith(b"ok")
        except OSError:
            return False


def stop_server(root: Path | None = None, *, keep_engines: bool = False) -> bool:
    """Ask the fork server of ``root`` (default: the state root) to exit and wait until its
    process is gone; True if one ran and went. Shims it started are not affected. With
    ``keep_engines``, a server the warm engine keeps (:func:`spawn_for_engine`) stays: it goes
    with the engine."""
    from engine.containers import procinfo

    sock = _connect(root or state_root())
    if sock is None:
        return False
    with sock:
        creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid = struct.unpack("3i", creds)[0]
        started = procinfo.start_time(pid)
        try:
            sock.sendall(json.dumps({"op": "exit", "keep_engines": keep_engines}).encode())
            sock.settimeout(_REPLY_TIMEOUT)
            if sock.recv(16) == b"kept":
                return False
        except OSError:
            pass
    # Its answer comes before its interpreter has shut down: "down" leaves no process of ours.
    procinfo.wait_exit(pid, started, _REPLY_TIMEOUT)
    return True


def server_running(root: Path | None = None) -> bool:
    """True while a fork server listens for ``root`` (default: the state root)."""
    sock = _connect(root or state_root())
    if sock is None:
        return False
    sock.close()
    return True


def _connect(root: Path) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with unix_address(_address(root)) as address:
            sock.connect(address)
    except (ConnectionRefusedError, FileNotFoundError):
        sock.close()
        return None
    return sock


def start_early() -> None:
    """Begin starting the state root's fork server unless one listens, without waiting: a
    caller about to start containers (``up``) overlaps the server's interpreter start-up
    (~75 ms) with its own work; its first :func:`request_shim` waits for that server."""
    root = state_root()
    with _early_lock:
        entry = _early.get(root)
        if isinstance(entry, tuple):
            if not readable([entry[1]], 0):
                return  # still starting: request_shim awaits it
            _early[root] = _wait_ready(*entry)  # came up (or failed) without being awaited
        if server_running(root):  # one that came up earlier may have been stopped since
            return                # (a long-lived caller: `down`, then `up` again)
        if _kept_starting() or warm.starting_keeps_shims or _engine_keeps():
            return  # the warm engine's own is coming up: request_shim waits for it
        try:
            _early[root] = _spawn_server(root)
        except OSError as exc:  # request_shim starts one (or falls back) when needed
            sys.stderr.write(f"shimd: early start failed: {exc!r}\n")


def _engine_keeps() -> bool:
    """Have the warm engine this command talks to start the server it keeps, when it has
    none (the command that started that engine; a command forked by an engine whose kept
    server went): True once it has one for this command to wait for. Not forking a server
    of our own matters beyond this command: the kept one survives ``down``, so the ``up``
    after it finds it running instead of waiting for a new one."""
    if warm.server_address is None or warm.kept_shim_server is not None:
        return False
    pid = warm.keep_shim_server()
    if pid is None:
        return False
    warm.kept_shim_server = pid
    return True


def _kept_starting() -> bool:
    """True while the shim server the warm engine keeps for this command is alive (it may still
    be starting: a fresh interpreter takes ~0.1 s)."""
    pid = warm.kept_shim_server
    if pid is None:
        return False
    return procstat.running(pid)


def _await_kept(root: Path) -> bool:
    """Wait until the warm engine's shim server listens; False when there is none or it went
    (another server held the state root, or it failed): the caller then starts one. Not
    starting a second one meanwhile matters: the loser gives way, and a fork of the engine's
    memory would serve every shim of the run."""
    deadline = time.monotonic() + _START_TIMEOUT
    while _kept_starting() and time.monotonic() < deadline:
        if server_running(root):
            return True
        time.sleep(0.002)
    return server_running(root)


def _await_early(root: Path) -> bool:
    """Wait for the server start_early() began for ``root``; True once it came up (False
    when none was begun or it failed)."""
    with _early_lock:
        entry = _early.get(root)
        if entry is None or isinstance(entry, bool):
            return bool(entry)
        _early[root] = up = _wait_ready(*entry)
        return up


def _start_server(root: Path) -> bool:
    """Start a server for ``root`` (detached); True once one listens (ours or a rival's)."""
    if _engine_keeps():
        return _await_kept(root)
    return _wait_ready(*_spawn_server(root))


def spawn_for_engine(root: Path, tree: str, lifeline: int) -> int:
    """Start a fork server for the warm engine of ``root`` and return its pid (the engine
    reaps it; it is not waited for). It is a fresh interpreter that imports only what shims
    need (~21 MB against the engine's ~68): every shim, and the two processes the runtime
    forks per container, is forked from it, and a fork's cost (page tables, copy-on-write
    faults, the teardown at exec and exit) grows with the parent's memory. It serves until
    ``lifeline`` (the read end of a pipe whose write end only the engine holds) reports EOF,
    that is until the engine is gone; ``down`` leaves it to the engine (``keep_engines``)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, *filter(None, sys.path)])}
    fds = engine_server_fds(root, lifeline)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
        return os.posix_spawn(sys.executable, [sys.executable, *engine_server_argv(root)],
                              env, file_actions=actions, setsid=True)
    finally:
        for fd in fds:
            os.close(fd)


def engine_server_argv(root: Path) -> list[str]:
    """The interpreter arguments of the server the warm engine keeps for ``root`` (ready
    pipe at 3, lifeline at 4)."""
    return ["-S", "-c", MAIN, str(root), "3", "4", ENGINE_OWNED]


def engine_server_fds(root: Path, lifeline: int) -> list[int]:
    """New descriptors for that server's 0-4, all above 4 and distinct (the caller closes
    them): /dev/null, /dev/null, its log (/dev/null if it cannot be opened), /dev/null for the
    ready pipe nobody reads, and ``lifeline``."""
    fds: list[int] = []

    def keep(fd: int) -> None:
        try:
            fds.append(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 5))
        finally:
            os.close(fd)

    def null() -> int:
        return os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)

    try:
        keep(null())
        keep(null())
        try:
            keep(os.open(root / "shimd.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND
                         | os.O_CLOEXEC, 0o600))
        except OSError:
            keep(null())
        keep(null())
        keep(os.dup(lifeline))
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return fds


def _spawn_server(root: Path) -> tuple[subprocess.Popen[bytes] | None, int]:
    """Launch a server for ``root``: its first process and the read end of its ready pipe."""
    ensure_dir(root, 0o711)
    read_fd, write_fd = os.pipe()
    tree = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([tree, *filter(None, sys.path)])}
    argv = ["-S", "-c", MAIN, str(root), str(write_fd)]
    try:
        with open(root / "shimd.log", "ab") as log_file, open(os.devnull, "rb") as devnull:
            proc: subprocess.Popen[bytes] | None = None
            if not warm.spawn_python(argv, env, (devnull.fileno(), devnull.fileno(),
                                                 log_file.fileno()), (write_fd,)):
                proc = subprocess.Popen(
                    [sys.executable, *argv], env=env, stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL, stderr=log_file, pass_fds=(write_fd,),
                    start_new_session=True, cwd="/")
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)
    return proc, read_fd


def _wait_ready(proc: subprocess.Popen[bytes] | None, read_fd: int) -> bool:
    """Wait until the launched server listens; True when it (or a rival) does. Event-driven:
    the ready pipe, then the first process's pidfd (``Popen.wait`` with a timeout sleeps
    in growing steps, up to 50 ms, between looks). ``proc`` is None when the warm engine
    forked the server (nothing to reap here)."""
    with os.fdopen(read_fd, "rb") as ready:
        word = ready.read() if readable([ready], _START_TIMEOUT) else b""
    if proc is not None:
        _reap(proc, _START_TIMEOUT)  # the server forks once; this reaps the first process
    return word in (b"ready", b"busy")


def _reap(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Reap ``proc`` once it has exited, waiting on its pidfd up to ``timeout``."""
    try:
        fd = os.pidfd_open(proc.pid)
    except ProcessLookupError:  # reaped already
        proc.poll()
        return
    try:
        readable([fd], timeout)
    finally:
        os.close(fd)
    proc.poll()


# -- the server -----------------------------------------------------------------------------

def prepare() -> None:
    """Load what every shim needs before any is forked, so each starts warm: the shim and exec
    modules, the built-in runtime with its libc, and the BPF program of the default seccomp
    profile in the runtime's memory (from its on-disk cache, or 32 ms of libseccomp once)."""
    from engine.containers import execution, shim  # noqa: F401
    from engine.containers.runtimes import builtin_available
    from engine.rootless import detect  # noqa: F401 - the cgroup driver's probe

    if not builtin_available():  # imports engine.runtime (seccomp, cgroups) when it exists
        return
    from engine import cgroups
    from engine.containers.security import effective_caps, seccomp_profile
    from engine.runtime import BuiltinRuntime, seccomp
    from engine.runtime.capabilities import last_cap
    from engine.runtime.syscalls import LinuxSyscalls

    last_cap()
    LinuxSyscalls()  # libc found and loaded once (a scan of the library directory per shim)
    cgroups.driver()  # (probed once: the shims inherit it)
    try:
        seccomp.compile_bpf(seccomp_profile(effective_caps((), (), False)),
                            BuiltinRuntime().seccomp_cache)
    except Exception as exc:  # noqa: BLE001 - each shim then compiles it (and reports errors)
        sys.stderr.write(f"shimd: default seccomp profile not precompiled: {exc!r}\n")


def serve(root: Path, ready_fd: int, lifeline: int | None = None) -> None:
    """Listen for requests until idle for ``_IDLE_EXIT`` seconds, or, with a ``lifeline``,
    until it reports EOF (the warm engine that keeps this server is gone)."""
    prepare()

    path = _address(root)
    ensure_dir(path.parent, 0o700)
    lock = os.open(path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:  # held for the server's life (shims close it): one server per root
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:  # another server for this root won the race
        os.write(ready_fd, b"busy")
        return
    try:
        path.unlink()  # a killed server's socket
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        with unix_address(path) as address:
            server.bind(address)
        server.listen(64)
        try:
            os.write(ready_fd, b"ready")
        except BrokenPipeError:
            return  # whoever started it was killed meanwhile: nobody waits for this server
        finally:
            os.close(ready_fd)
        _serve(root, server, lifeline)
    finally:
        try:
            path.unlink()  # still ours: the lock is held until this process ends
        except FileNotFoundError:
            pass
        server.close()


def _serve(root: Path, server: socket.socket, lifeline: int | None) -> None:
    serving, last = True, time.monotonic()
    idle = float("inf") if lifeline is not None else _IDLE_EXIT
    watched: list[Any] = [server, *([lifeline] if lifeline is not None else [])]
    while serving and time.monotonic() - last < idle and root.is_dir():
        _reap_shims()
        ready = readable(watched, _CHECK_EVERY)
        if lifeline in ready:
            return  # the engine is gone (only it held the pipe's other end)
        if not ready:
            continue  # idle: look again whether the state root still exists (tests remove it)
        last = time.monotonic()
        conn, _ = server.accept()
        with conn:
            try:
                serving = _handle(conn, kept=lifeline is not None)
                if not serving:  # gone before the caller hears so
                    server.close()
                    conn.sendall(b"ok")
            except (OSError, ValueError, KeyError) as exc:
                sys.stderr.write(f"shimd: request failed: {exc!r}\n")


def _handle(conn: socket.socket, kept: bool) -> bool:
    """Serve one request; False when asked to exit (``kept``: this server goes with the warm
    engine, and stays when asked with ``keep_engines``)."""
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    if struct.unpack("3i", creds)[1] != os.geteuid():
        return True  # only the engine's own user may have shims forked
    conn.settimeout(_REPLY_TIMEOUT)
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 2)
    try:
        if not data:  # a probe (server_running)
            return True
        request = json.loads(data)
        if request.get("op") == "exit":
            if kept and request.get("keep_engines"):
                conn.sendall(b"kept")
                return True
            return False
        if len(fds) != 2:
            raise ValueError("expected two descriptors")
        _fork_shim(request, fds[0], fds[1])
    finally:
        for fd in fds:  # the shim has its own copies; ours would hold the lock
            os.close(fd)
    conn.sendall(b"ok")
    return True


def _fork_shim(request: dict[str, Any], report_fd: int, lock_fd: int) -> None:
    """Fork the shim (new session, the caller's environment). One fork, not two: each costs
    ~4 ms here and the server forks every shim in turn; the server reaps its shims
    (:func:`_reap_shims`) and they outlive it."""
    from engine import proctitle
    from engine.containers.shim import become_shim, shim_argv  # (imported before any fork)

    if os.fork() == 0:
        try:
            os.setsid()
            proctitle.set_cmdline(shim_argv(request["cid"], request["runtime"]))
            os.environ.clear()
            os.environ.update(request["env"])
            become_shim(request["cid"], request["runtime"], report_fd, lock_fd)
        finally:
            os._exit(0)


def _reap_shims() -> None:
    """Collect the shims that have exited (without blocking)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main(argv: list[str]) -> None:
    """``python -c MAIN ROOT READY_FD``: daemonize, then serve. ``python -c MAIN ROOT
    READY_FD LIFELINE_FD engine-owned``: the warm engine's server (started detached, reaped by
    the engine), until the lifeline reports EOF."""
    if argv[-1] == ENGINE_OWNED:
        root, ready_fd, lifeline = Path(argv[-4]), int(argv[-3]), int(argv[-2])
        os.closerange(5, os.sysconf("SC_OPEN_MAX"))  # nothing else of the engine's is ours
        os.set_inheritable(lifeline, False)  # never into a shim
    else:
        root, ready_fd, lifeline = Path(argv[-2]), int(argv[-1]), None
        if not warm.detached and os.fork() > 0:  # (the warm engine forked us detached already)
            os._exit(0)
    os.chdir("/")
    try:
        serve(root, ready_fd, lifeline)
    finally:
        os._exit(0)
