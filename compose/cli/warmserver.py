"""The warm engine process: one per state root (and installed tree), started on demand by a
command that found none (:func:`compose.cli.warmclient.start_engine`), gone after an idle
period; nothing needs to be installed or running beforehand.

It binds its address first (a second one started at the same moment gives way at once), then
imports the whole CLI and engine, then serves three requests (:mod:`engine.warm` has the wire
format):

- ``run``: fork a child that becomes the command: the client's standard streams, working
  directory, environment, umask and arguments, then :func:`compose.cli.main.main`. The server
  forwards the signals the client relays, kills the child if the client dies (as a killed CLI
  stops), and reports the exit status. It stays single-threaded, so forking is safe.
- ``spawn`` (from such a child): fork a detached process (new session, double fork) that runs
  ``python -m module`` or ``python -c code`` with the given descriptors: the project supervisor,
  the DNS daemon and the shim fork server start without an interpreter of their own.
- ``linger``: nothing of the state root runs any more; exit soon after the last command.

The server holds no engine state: containers belong to their shims, and the daemons it forked
are detached from it, so killing it (even with SIGKILL) stops nothing but itself; the next
command runs in-process and starts a new one. When a module file of the tree changes, it
refuses further commands (``stale``) and exits.
"""
from __future__ import annotations

import _socket
import io
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compose.cli.warmwatch import TreeWatch
from engine import proctitle, warm

_SKIP = ("compose.k8s", "compose.pytest_plugin")  # optional dependencies, never on a hot path
_REQUEST_TIMEOUT = 2.0
_TICK = 1.0


@dataclass(slots=True)
class _Running:
    """A command child and the connection of the client waiting for it."""

    pid: int
    pidfd: int
    conn: Any
    client_gone: bool = False


class Server:
    """The serving loop's state (a forked child leaves it with a job to run instead)."""

    def __init__(self, root: str, listener: Any, lock: int) -> None:
        self.root, self.listener, self.lock = root, listener, lock
        self.address = warm.address(root)
        self.idle = warm.idle_seconds()
        self.limit = self.idle
        self.running: dict[int, _Running] = {}  # by pidfd
        self.last = time.monotonic()
        self.watch = TreeWatch(warm.tree())
        self.stale = False
        self.stopping = False

    # -- the loop ------------------------------------------------------------------------------

    def serve(self) -> Callable[[], int] | None:
        """Serve until idle; in a forked child, return the job that child must run."""
        while True:
            wait = _TICK
            if not self.running:
                if self.stopping or self.stale or not os.path.isdir(self.root):
                    return None
                left = self.last + self._idle_limit() - time.monotonic()
                if left <= 0:
                    return None
                wait = min(_TICK, left)
            watching = not self.stale and self.watch.fileno() >= 0
            watched = [self.listener, *self.running, *([self.watch] if watching else []),
                       *(r.conn for r in self.running.values() if not r.client_gone)]
            try:
                ready = select.select(watched, [], [], wait)[0]
            except InterruptedError:
                continue
            for item in ready:
                job = self._ready(item)
                if job is not None:
                    return job

    def _idle_limit(self) -> float:
        """How long to wait for the next command: the configured idle time while a project of
        the state root runs (it has a supervisor), a short one when none does or a ``down``
        just left nothing running."""
        if self.limit < self.idle:
            return self.limit  # lingering after such a down
        try:
            names = os.listdir(os.path.join(self.root, "run"))
        except OSError:
            names = []
        if any(n.startswith("project-") and n.endswith(".pid") for n in names):
            return self.idle
        return min(self.idle, warm.QUIET_IDLE)

    def _ready(self, item: Any) -> Callable[[], int] | None:
        if item is self.watch:
            self.stale = self.watch.stale()
            return None
        if item is self.listener:
            if self.stopping or self.stale:
                return None
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return None
            return self._accept(conn)
        if isinstance(item, int):
            self._reap(item)
        else:
            self._from_client(item)
        return None

    def _accept(self, conn: Any) -> Callable[[], int] | None:
        keep = False
        try:
            if warm.peer_uid(conn) != os.geteuid():
                return None
            conn.settimeout(_REQUEST_TIMEOUT)
            request, fds = warm.recv_request(conn)
            try:
                op = request.get("op")
                if op == "run":
                    job, keep = self._run(conn, request, fds)
                    return job
                if op == "spawn":
                    return self._spawn(conn, request, fds)
                if op == "learn":
                    conn.sendall(b"ok\n")
                    _learn(request.get("modules"))
                    return None
                if op == "linger":
                    self.limit = min(self.limit, warm.LINGER_EMPTY)
                    conn.sendall(b"ok\n")
                return None
            finally:
                for fd in fds:
                    if fd >= 0:
                        os.close(fd)
        except (OSError, ValueError, EOFError, TypeError) as exc:
            sys.stderr.write(f"warm engine: request failed: {exc!r}\n")
            return None
        finally:
            if not keep:
                conn.close()

    def _run(self, conn: Any, request: dict[str, Any], fds: list[int]
             ) -> tuple[Callable[[], int] | None, bool]:
        if len(fds) != 3 or not isinstance(request.get("args"), list):
            conn.sendall(b"E\n")
            return None, False
        if self.watch.stale():
            self.stale = True
            conn.sendall(b"stale\n")
            return None, False
        if _hung_up(conn):  # the client gave up waiting and runs the command itself
            return None, False
        self.last, self.limit = time.monotonic(), self.idle
        pid = os.fork()
        if pid == 0:
            streams = list(fds)
            fds.clear()  # the child owns them now (the caller's finally must not close them)
            return lambda: _command(self, request, streams), False
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child did it first (or already ran out)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = _Running(pid, pidfd, conn)
        conn.settimeout(None)
        conn.sendall(b"P%d\n" % pid)
        return None, True

    def _spawn(self, conn: Any, request: dict[str, Any], fds: list[int]
               ) -> Callable[[], int] | None:
        targets = request.get("targets")
        if not isinstance(targets, list) or len(targets) != len(fds) or len(fds) < 3:
            conn.sendall(b"E\n")
            return None
        pid = os.fork()
        if pid == 0:
            try:
                os.setsid()
                if os.fork() != 0:
                    os._exit(0)
            except BaseException:
                os._exit(127)
            streams = list(fds)
            fds.clear()
            return lambda: _detached(self, request, streams)
        os.waitpid(pid, 0)
        conn.sendall(b"ok\n")
        return None

    def _from_client(self, conn: Any) -> None:
        entry = next((r for r in self.running.values() if r.conn is conn), None)
        if entry is None:
            return
        try:
            data = conn.recv(4096)
        except OSError:
            data = b""
        if not data:  # the client died: so does its command, as a killed CLI would
            entry.client_gone = True
            _signal(entry.pid, signal.SIGKILL)
            return
        for word in data.split(b"\n"):
            if word.startswith(b"K") and word[1:].isdigit():
                _relay(entry.pid, int(word[1:]))

    def _reap(self, pidfd: int) -> None:
        entry = self.running.pop(pidfd)
        _, status = os.waitpid(entry.pid, 0)
        os.close(pidfd)
        self.last = time.monotonic()
        reply = (b"S%d\n" % os.WTERMSIG(status) if os.WIFSIGNALED(status)
                 else b"X%d\n" % os.waitstatus_to_exitcode(status))
        try:
            entry.conn.sendall(reply)
        except OSError:
            pass
        entry.conn.close()

    def close_for_child(self) -> None:
        """In a forked child: drop the server's descriptors."""
        self.listener.close()
        self.watch.close()
        os.close(self.lock)
        for entry in self.running.values():
            entry.conn.close()
            os.close(entry.pidfd)
        self.running.clear()


def _hung_up(conn: Any) -> bool:
    """True when the client closed its end (nothing more will come from it)."""
    if not select.select([conn], [], [], 0)[0]:
        return False
    try:
        return conn.recv(1, _socket.MSG_PEEK) == b""
    except OSError:
        return True


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def _relay(pid: int, signum: int) -> None:
    """A signal the client received: to the command's process group for the terminal's own
    (as a terminal signals the whole foreground job), to the command otherwise."""
    group = signum in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP, signal.SIGTSTP,
                       signal.SIGCONT)
    try:
        if group:
            os.killpg(pid, signum)
        else:
            os.kill(pid, signum)
    except ProcessLookupError:
        pass


# -- what a forked child runs ------------------------------------------------------------------

def _command(server: Server, request: dict[str, Any], fds: list[int]) -> int:
    """Become the client's command: its streams, place and environment; then run it."""
    server.close_for_child()
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    _default_signals()
    os.umask(int(request.get("umask", 0o022)))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request.get("env", {})).items()})
    os.chdir(str(request.get("cwd", "/")))
    _reopen_stdio()
    args = [str(a) for a in request["args"]]
    sys.argv = [str(request.get("argv0", "pycompose")), *args]
    proctitle.set_cmdline([sys.executable, *sys.argv])
    warm.server_address = server.address
    from compose.cli.main import main

    try:
        return main(args)
    except SystemExit as exc:
        return _exit_code(exc)


def _detached(server: Server, request: dict[str, Any], fds: list[int]) -> int:
    """Become ``python <argv>`` with the given descriptors at the given numbers."""
    import fcntl

    server.close_for_child()
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 256) for fd in fds]
    for fd in fds:
        os.close(fd)
    targets = [int(t) for t in request["targets"]]
    for target, fd in zip(targets, high, strict=True):
        os.dup2(fd, target, inheritable=True)
    keep = set(targets)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    _default_signals()
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request.get("env", {})).items()})
    os.chdir("/")
    _reopen_stdio()
    argv = [str(a) for a in request["argv"]]
    proctitle.set_cmdline([sys.executable, *argv])
    while argv and argv[0] not in ("-m", "-c") and argv[0].startswith("-"):
        argv.pop(0)  # interpreter flags (-S): this interpreter is already set up
    try:
        if len(argv) >= 2 and argv[0] == "-m":
            import runpy

            sys.argv = [argv[1], *argv[2:]]
            runpy.run_module(argv[1], run_name="__main__", alter_sys=True)
        elif len(argv) >= 2 and argv[0] == "-c":
            sys.argv = ["-c", *argv[2:]]
            exec(compile(argv[1], "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102
        else:
            sys.stderr.write(f"warm engine: cannot run {argv!r}\n")
            return 2
    except SystemExit as exc:
        return _exit_code(exc)
    return 0


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    sys.stderr.write(f"{exc.code}\n")
    return 1


def _default_signals() -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for name in ("SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGTSTP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def _reopen_stdio() -> None:
    """New ``sys.std*`` objects over fds 0-2, buffered as a fresh interpreter's would be."""
    encoding, errors = sys.stdout.encoding, sys.stdout.errors or "strict"
    stdin = _text_stream(0, encoding, errors, False)
    stdout = _text_stream(1, encoding, errors, os.isatty(1))
    stderr = _text_stream(2, encoding, "backslashreplace", True)
    sys.stdin, sys.stdout, sys.stderr = stdin, stdout, stderr
    for name, value in (("__stdin__", stdin), ("__stdout__", stdout), ("__stderr__", stderr)):
        setattr(sys, name, value)


def _text_stream(fd: int, encoding: str, errors: str, line: bool) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "r" if fd == 0 else "w", closefd=False)
    buffered: io.BufferedReader | io.BufferedWriter = (
        io.BufferedReader(raw) if fd == 0 else io.BufferedWriter(raw))
    return io.TextIOWrapper(buffered, encoding=encoding, errors=errors, line_buffering=line)


def _finish(code: int) -> None:
    """End a forked child as an interpreter ends: non-daemon threads joined, atexit handlers
    run, streams flushed; without tearing down the inherited modules (os._exit)."""
    try:
        if "threading" in sys.modules:
            sys.modules["threading"]._shutdown()  # type: ignore[attr-defined]
        import atexit

        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code & 0xFF if code >= 0 else 1)


# -- start-up ----------------------------------------------------------------------------------

def _preload() -> None:
    """Import every module of the tree a command may use (the dataclass cache first)."""
    import importlib
    import pkgutil

    from engine import dataclass_cache

    dataclass_cache.install()
    for top in ("engine", "compose"):
        package = importlib.import_module(top)
        for info in pkgutil.walk_packages(package.__path__, f"{top}."):
            if info.name.endswith("__main__") or info.name.startswith(_SKIP):
                continue
            try:
                importlib.import_module(info.name)
            except Exception as exc:  # noqa: BLE001 - an optional dependency is missing
                sys.stderr.write(f"warm engine: not preloaded: {info.name}: {exc!r}\n")
    import typer  # noqa: F401 - the lean parser's stand-in is replaced by the real module

    _learn(_HEAVY)
    from engine.containers import shimd

    shimd.prepare()  # the shim fork server forked from here inherits it all
    from compose.cli import app, lean, main
    from compose.config import validation

    app.prebuild()
    lean.prepare({name: main.COMMANDS[name] for name in main.LEAN_COMMANDS})
    validation._quick_check()  # the compose schema, compiled (~10 ms per command otherwise)
    validation._validator()
    dataclass_cache.flush()  # now, not at the exit of every command forked from here
    try:
        from engine.networks.firewall import iptables

        iptables.warm_up()
    except Exception as exc:  # noqa: BLE001 - no legacy iptables here: nothing to warm
        sys.stderr.write(f"warm engine: iptables extensions not loaded: {exc!r}\n")


# Third-party and standard modules the engine imports inside functions (on first use): loaded
# up front so that no command pays for them. Anything else a command imports is reported by it
# when it ends (:func:`_report_new_modules`) and loaded between commands.
_HEAVY = ["iptc", "pyroute2.iproute.linux", "pyroute2.netlink.exceptions", "networkx",
          "jsonschema", "jsonschema.exceptions", "dns.message", "dns.rdatatype", "pyseccomp",
          "watchfiles", "yaml._yaml", "typer._click.exceptions", "typer._coercion", "tarfile",
          "sqlite3", "subprocess", "difflib", "secrets", "urllib.request", "http.client",
          "zstandard", "ctypes.util"]
_NEVER = ("__main__", "kubernetes", "compose.k8s", "compose.pytest_plugin", "pytest", "_pytest")
_known: set[str] = set()


def _learn(names: object) -> None:
    """Import ``names`` (module names a command used) into the engine for later commands."""
    import importlib

    if not isinstance(names, list):
        return
    before = len(sys.modules)
    for name in names:
        if not isinstance(name, str) or name in sys.modules or name.startswith(_NEVER):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a module that only loads in its context
            sys.stderr.write(f"warm engine: not preloaded: {name}: {exc!r}\n")
    _known.update(sys.modules)
    if len(sys.modules) != before:
        import gc

        gc.freeze()  # as after the preload: children's collections skip these objects


def _report_new_modules() -> None:
    """In a command child: tell the engine which modules this command had to import."""
    new = sorted(set(sys.modules) - _known)
    if not new or warm.server_address is None:
        return
    sock = warm.connect(warm.server_address, 1.0)
    if sock is None:
        return
    try:
        warm.send_request(sock, {"op": "learn", "modules": new}, [])
        warm.read_line(sock, bytearray())
    except OSError:
        pass
    finally:
        sock.close()


def main() -> int:
    import fcntl
    import socket

    from compose.cli.warmclient import state_root

    root = state_root()
    if root is None:
        return 0
    addr = warm.address(root)
    os.makedirs(os.path.dirname(addr), 0o700, exist_ok=True)
    lock = os.open(warm.lock_path(addr), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another one serves (or is starting for) this state root
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    try:
        os.unlink(addr)  # a killed engine's socket (the lock says it is gone)
    except FileNotFoundError:
        pass
    warm.on_path(listener.bind, addr)
    listener.listen(64)
    proctitle.set_cmdline([sys.executable, "-P", "-m", "compose.cli.warmserver", root])
    os.chdir("/")
    _log_to(root)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server_ref: list[Server] = []
    signal.signal(signal.SIGTERM, lambda *_: _stop(server_ref))
    _preload()
    import gc

    gc.collect()
    gc.freeze()  # children's collections leave the preloaded objects (and their pages) alone
    server = Server(root, listener, lock)
    server_ref.append(server)
    job = server.serve()
    if job is None:
        _unlink(addr)
        listener.close()
        return 0
    try:
        code = job()
    except BaseException:  # noqa: BLE001 - a child's own failure: report it, exit like Python
        import traceback

        traceback.print_exc()
        code = 1
    try:
        _report_new_modules()
    except Exception:  # noqa: BLE001 - never fail a finished command for the engine's sake
        pass
    _finish(code)
    return 0  # not reached


def _unlink(addr: str) -> None:
    """Remove the socket file (ours: a newer engine binds only once our lock is released)."""
    try:
        os.unlink(addr)
    except OSError:
        pass


def _stop(server_ref: list[Server]) -> None:
    if server_ref:
        server_ref[0].stopping = True
    else:
        os._exit(0)


def _log_to(root: str) -> None:
    """The server's own complaints go to ``<root>/run/engine.log`` when that exists."""
    run = os.path.join(root, "run")
    if not os.path.isdir(run):
        return
    try:
        fd = os.open(os.path.join(run, "engine.log"),
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    except OSError:
        return
    os.dup2(fd, 2)
    os.close(fd)


if __name__ == "__main__":
    sys.exit(main())
