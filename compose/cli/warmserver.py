"""The warm engine process: one per state root (and installed tree), started on demand by a
command that found none (:func:`compose.cli.warmclient.start_engine`), gone after an idle
period; nothing needs to be installed or running beforehand.

It binds its address first (a second one started at the same moment gives way at once), then
serves while it imports the whole CLI and engine in small steps between requests (a command
that arrives meanwhile is forked at once and imports what it still lacks itself). The preload
(about a second of CPU) waits until the command that started the engine has ended, or for
:data:`_PRELOAD_AFTER` seconds, so that it does not compete with that command for the CPU.
Meanwhile, when that command is an ``up`` (or another that starts containers), the engine
forks the shim server it keeps and imports what the project supervisor and the DNS daemon
need (:func:`compose.cli.warmpreload.for_daemons`) while the command loads the project: the
daemons it forks for the command then serve at once.
It serves these requests (:mod:`engine.warm` has the wire format):

- ``run``: fork a child that becomes the command: the client's standard streams, working
  directory, environment, umask and arguments, then :func:`compose.cli.main.main`. The server
  forwards the signals the client relays, kills the child if the client dies (as a killed CLI
  stops), and reports the exit status when it reaps the child (the child has written its exit
  line already when it ends normally: the client need not wait for a busy server). It stays
  single-threaded, so forking is safe.
- ``spawn`` (from such a child): fork a detached process (new session; the engine reaps it)
  that runs ``python -m module`` or ``python -c code`` with the given descriptors: the project
  supervisor, the DNS daemon and the shim fork server start without an interpreter of their
  own.
- ``learn``: modules a finished command had to import, loaded for the next ones;
- ``keep_shims``: start the shim fork server this engine keeps, unless one runs, and answer
  its pid (the command that started the engine asks: its shims come from that server, which
  then serves the commands after it too);
- ``linger``: nothing of the state root runs any more; exit soon after the last command (no
  reply, like ``learn``: the ``down`` that tells it need not wait for a step of the preload);
- ``status``: where the preload is (``waiting``, ``loading``, ``done``), how many modules
  are loaded, and whether what the starting command's daemons need is (``for_daemons``:
  ``loading``, ``done``, ``no``), as a JSON line.

The server holds no engine state: containers belong to their shims, and the daemons it forked
are detached from it, so killing it (even with SIGKILL) stops nothing but itself; the next
command runs in-process and starts a new one. When a module file of the tree changes, it
refuses further commands (``stale``) and exits.
"""
from __future__ import annotations

import _socket
import gc
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from compose.cli import warmchild, warmpreload
from compose.cli.warmclient import DAEMON_COMMANDS
from compose.cli.warmwatch import TreeWatch
from engine import proctitle, warm
from engine.fdwait import readable

_REQUEST_TIMEOUT = 2.0
_TICK = 1.0
_PRELOAD_AFTER = 3.0  # seconds: the longest the preload waits for the starting command to end


class _Running:
    """A command child and the connection of the client waiting for it. (A plain class: this
    module imports no ``dataclasses``, which would load ``inspect``, ~6 ms of an engine start
    that shares the CPU with the command that started it; the preload has it spared.)"""

    __slots__ = ("pid", "pidfd", "conn", "client_gone")

    def __init__(self, pid: int, pidfd: int, conn: Any) -> None:
        self.pid, self.pidfd, self.conn = pid, pidfd, conn
        self.client_gone = False


class Server:
    """The serving loop's state (a forked child leaves it with a job to run instead)."""

    def __init__(self, root: str, listener: Any, lock: int) -> None:
        self.root, self.listener, self.lock = root, listener, lock
        self.address = warm.address(root)
        self.idle = warm.idle_seconds()
        self.limit = self.idle
        self.running: dict[int, _Running] = {}  # by pidfd
        self.daemons: dict[int, int] = {}  # pidfd -> pid of a daemon forked for a command
        self.shimd: tuple[int, int] | None = None  # (pidfd, pid) of the shim server it keeps
        self.lifeline = -1  # write end of that server's lifeline pipe (only we hold it)
        self.last = time.monotonic()
        self.watch = TreeWatch(warm.tree())
        self.stale = False
        self.stopping = False
        # imports still to do, one module per step between requests: the preload, then what
        # finished commands reported they had to import (``learn``)
        self.preload = warmpreload.steps()
        self.work: list[Iterator[str]] = [self.preload]
        self.preload_at = self.last + _PRELOAD_AFTER
        self.parent = _parent_pidfd()  # the command that started us, while it runs
        self.grown = False  # a step of the preload has run (a fork of us now costs more)
        # while that command runs: its daemons' imports, when it is one that will ask for them
        # (the kept shim server first: forked while this process is still small)
        self.early: Iterator[str] | None = (
            self._for_daemons() if self.parent >= 0 and _starting_command()
            in DAEMON_COMMANDS else None)
        self.early_done = False

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
            step_in = self._step_in()
            if step_in is not None:
                wait = min(wait, step_in)
            watching = not self.stale and self.watch.fileno() >= 0
            watched = [self.listener, *self.running, *self.daemons,
                       *([self.shimd[0]] if self.shimd else []),
                       *([self.watch] if watching else []),
                       *([self.parent] if self.parent >= 0 else []),
                       *(r.conn for r in self.running.values() if not r.client_gone)]
            try:
                ready = readable(watched, wait)
            except InterruptedError:
                continue
            if not ready and self._step_in() == 0:
                self._work_step()
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

    def _step_in(self) -> float | None:
        """Seconds until the next import may run (0: now; None: nothing left to import): at
        once when the starting command has ended, else once the wait for it is over."""
        if self.early is not None:
            return 0.0
        if not self.work:
            return None
        return 0.0 if self.parent < 0 else max(0.0, self.preload_at - time.monotonic())

    def _for_daemons(self) -> Iterator[str]:
        self.keep_shim_server()
        yield "shim server"
        for step in warmpreload.for_daemons():
            self.grown = True
            gc.freeze()
            yield step

    def _work_step(self) -> None:
        """Load the next module (the starting command has ended, or the wait for it is
        over); while that command runs, the next of its daemons' imports."""
        if self.early is not None:
            if next(self.early, None) is None:
                self.early, self.early_done = None, True
            return
        if self.parent >= 0:
            self._parent_gone()
        done = next(self.work[0], None) is None
        self.grown = True
        gc.freeze()  # what it loaded: a command forked next does not collect (nor copy) it
        if done:
            self.work.pop(0)

    def _status(self) -> bytes:
        import json

        phase = ("waiting" if self.parent >= 0 else "loading" if self.preload in self.work
                 else "done")
        daemons = ("loading" if self.early is not None else "done" if self.early_done
                   else "no")
        return json.dumps({"preload": phase, "modules": len(sys.modules),
                           "for_daemons": daemons}).encode() + b"\n"

    def _parent_gone(self) -> None:
        """The preload may begin: stop watching the starting command, and start the shim
        server (its interpreter starts while this one preloads)."""
        os.close(self.parent)
        self.parent = -1
        self.keep_shim_server()

    def _ready(self, item: Any) -> Callable[[], int] | None:
        if isinstance(item, int) and item == self.parent:
            self._parent_gone()
            return None
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
        if isinstance(item, int) and item in self.daemons:
            os.waitpid(self.daemons.pop(item), 0)
            os.close(item)
        elif self.shimd is not None and item == self.shimd[0]:
            os.waitpid(self.shimd[1], 0)  # stopped, or another server held the state root
            os.close(item)
            self.shimd = None
        elif isinstance(item, int):
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
                if op == "learn":  # (no reply: nobody waits; first: from our starting command)
                    learning = warmpreload.learning(request.get("modules"))
                    self.work.insert(0 if request.get("first") else len(self.work), learning)
                    return None
                if op == "keep_shims":  # (from a command this engine did not fork: see shimd)
                    self.keep_shim_server()
                    conn.sendall(b"%d\n" % self.shimd[1] if self.shimd else b"none\n")
                if op == "linger":  # (no reply either: a busy engine would hold up a `down`)
                    self.limit = min(self.limit, warm.LINGER_EMPTY)
                if op == "status":  # (a caller watching it keeps it, as a command would)
                    self.last = max(self.last, time.monotonic())
                    conn.sendall(self._status())
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
        self.keep_shim_server()
        conn.sendall(b"P\n")  # before the fork: the command's own exit line must come after it
        pid = os.fork()
        if pid == 0:
            # (the command waits for this server when it is still starting; see shimd)
            warm.kept_shim_server = self.shimd[1] if self.shimd else None
            # the command tells the client its exit code itself (see warmchild.finish), as soon
            # as it is done, even while this server is busy with a step of its preload
            warmchild.exit_line_fd = os.dup(conn.fileno())
            streams = list(fds)
            fds.clear()  # the child owns them now (the caller's finally must not close them)
            return lambda: warmchild.become_command(self.close_for_child, self.address, request,
                                                    streams), False
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass  # the child did it first (or already ran out)
        pidfd = os.pidfd_open(pid)
        self.running[pidfd] = _Running(pid, pidfd, conn)
        conn.settimeout(None)
        return None, True

    def _spawn(self, conn: Any, request: dict[str, Any], fds: list[int]
               ) -> Callable[[], int] | None:
        targets = request.get("targets")
        if not isinstance(targets, list) or len(targets) != len(fds) or len(fds) < 3:
            conn.sendall(b"E\n")
            return None
        pid = os.fork()  # one fork (each costs ~4 ms of this big process): the engine reaps
        if pid == 0:
            try:
                os.setsid()
            except BaseException:
                os._exit(127)
            streams = list(fds)
            fds.clear()
            return lambda: warmchild.become_daemon(self.close_for_child, request, streams)
        try:
            self.daemons[os.pidfd_open(pid)] = pid
        except OSError:  # gone already: reap it now
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

    def keep_shim_server(self) -> None:
        """Have a shim fork server of our own running (started in the background when there
        is none: a fork of this process while no preload step has made it bigger than a fresh
        interpreter, which it then skips; else see
        :func:`engine.containers.shimd.spawn_for_engine`)."""
        from engine.containers import shimd

        if self.shimd is not None or not os.path.isdir(self.root):
            return
        root = Path(self.root)
        if shimd.server_running(root):
            return  # one a command started in-process serves until its idle timeout
        if self.lifeline >= 0:  # the pipe of a server that went
            os.close(self.lifeline)
        read_end, self.lifeline = os.pipe()  # both close-on-exec
        try:
            if self.grown:
                pid = shimd.spawn_for_engine(root, warm.tree(), read_end)
            else:
                pid = self._fork_shim_server(root, read_end)
            self.shimd = (os.pidfd_open(pid), pid)
        except OSError as exc:
            sys.stderr.write(f"warm engine: shim server not started: {exc!r}\n")
        finally:
            os.close(read_end)

    def _fork_shim_server(self, root: Path, lifeline: int) -> int:
        """Fork the kept shim server, set up as
        :func:`~engine.containers.shimd.spawn_for_engine` starts it."""
        from engine.containers import shimd

        fds = shimd.engine_server_fds(root, lifeline)
        try:
            pid = os.fork()
            if pid == 0:
                try:
                    os.setsid()
                    request = {"argv": shimd.engine_server_argv(root), "env": dict(os.environ),
                               "targets": [0, 1, 2, 3, 4]}
                    streams = list(fds)
                    fds.clear()
                    warmchild.become_daemon(self.close_for_child, request, streams)
                finally:
                    os._exit(1)
            return pid
        finally:
            for fd in fds:
                os.close(fd)

    def close_for_child(self) -> None:
        """In a forked child: drop the server's descriptors."""
        self.listener.close()
        self.watch.close()
        os.close(self.lock)
        if self.parent >= 0:
            os.close(self.parent)
            self.parent = -1
        if self.lifeline >= 0:  # the kept shim server must see EOF when the engine goes
            os.close(self.lifeline)
            self.lifeline = -1
        if self.shimd is not None:
            os.close(self.shimd[0])
            self.shimd = None
        for entry in self.running.values():
            entry.conn.close()
            os.close(entry.pidfd)
        self.running.clear()
        for pidfd in self.daemons:
            os.close(pidfd)
        self.daemons.clear()


def _hung_up(conn: Any) -> bool:
    """True when the client closed its end (nothing more will come from it)."""
    if not readable([conn], 0):
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

def main() -> int:
    import fcntl
    import socket

    from compose.cli.warmclient import state_root

    ready = _ready_pipe()  # the starting command waits on it to have its daemons forked here
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
    _tell_ready(ready)
    proctitle.set_cmdline([sys.executable, "-P", "-m", "compose.cli.warmserver", root])
    os.chdir("/")
    _log_to(root)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    server_ref: list[Server] = []
    signal.signal(signal.SIGTERM, lambda *_: _stop(server_ref))
    from engine import dataclass_cache, regex_cache

    regex_cache.install()
    dataclass_cache.install()  # (also for the commands forked before the preload)
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
        warmpreload.report_new_modules()
    except Exception:  # noqa: BLE001 - never fail a finished command for the engine's sake
        pass
    warmchild.finish(code)
    return 0  # not reached


def _starting_command() -> str | None:
    """The command that started this engine (``warmserver <fd> --for=<command>``)."""
    given = sys.argv[2] if len(sys.argv) > 2 else ""
    return given.removeprefix("--for=") if given.startswith("--for=") else None


def _ready_pipe() -> int:
    """The ready pipe the starting command gave (``warmserver <fd>``: see
    :func:`compose.cli.warmclient.start_engine`), or -1. Close-on-exec from now on, and never
    in a forked child: the command sees the pipe end when this process listens or exits."""
    if len(sys.argv) < 2 or not sys.argv[1].isdigit():
        return -1
    fd = int(sys.argv[1])
    try:
        os.set_inheritable(fd, False)
    except OSError:
        return -1
    return fd


def _tell_ready(fd: int) -> None:
    """Tell the starting command this engine listens (it forks the command's daemons)."""
    if fd < 0:
        return
    try:
        os.write(fd, b"ready")
    except OSError:
        pass  # the command has ended (or no longer waits): nothing to tell
    finally:
        os.close(fd)


def _parent_pidfd() -> int:
    """A pidfd of the process that started this one (the command that found no engine), or
    -1 when it has ended already."""
    parent = os.getppid()
    if parent <= 1:
        return -1
    try:
        fd = os.pidfd_open(parent)
    except OSError:
        return -1
    if os.getppid() != parent:  # it ended before the pidfd was taken: that may be another's
        os.close(fd)
        return -1
    return fd


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
