"""The thin CLI: hand the command line to the state root's warm engine, if one runs.

The warm engine (:mod:`compose.cli.warmserver`) forks a child that runs the command exactly as
this process would (same arguments, working directory, environment, umask and standard
streams, which are passed as file descriptors); this process forwards the signals a terminal
or a caller sends it, and exits with the child's exit code. Only ``os``, ``sys``, ``_socket``,
``marshal`` and ``_signal`` (``signal`` would load ``enum``) are loaded here.

No engine answering: the caller runs the command in-process and :func:`start_engine` starts one
in the background for the next command. Set ``PYCOMPOSE_ENGINE_IDLE=0`` to never use one.
Rootless users always run in-process (their commands join the rootless namespaces first).
"""
from __future__ import annotations

import _socket
import os
import sys

from engine import warm

# The signals forwarded to the command (the terminal's go to this process's group only).
_FORWARD = ("SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGWINCH",
            "SIGCONT")
# The engine accepted a request and has not forked for this long: run in-process instead.
_ACCEPT_TIMEOUT = 10.0
EXIT_LOST = 1


class Absent(Exception):
    """No warm engine serves this command line (``spawn``: one may be started)."""

    def __init__(self, spawn: bool) -> None:
        super().__init__()
        self.spawn = spawn


def state_root() -> str | None:
    """The state root as root sees it, or None when warm engines are not used here."""
    if os.geteuid() != 0 or warm.idle_seconds() <= 0:
        return None
    # engine.paths.state_root's rule for root (not imported: it loads pathlib)
    return os.environ.get("PYCOMPOSE_ROOT") or "/var/lib/pycompose"


def interactive(command: str | None, args: list[str]) -> bool:
    """A command that takes over the terminal (``exec``/``run``/``attach`` with a terminal on
    stdin and no ``-T``/``-d``): it runs in-process, where the terminal is its own."""
    if command not in ("exec", "run", "attach") or not os.isatty(0):
        return False
    return not any(a in ("-T", "--no-TTY", "-d", "--detach") for a in args)


def run(args: list[str]) -> int:
    """Run ``args`` in the warm engine and return its exit code (raises :class:`Absent`)."""
    root = state_root()
    if root is None:
        raise Absent(spawn=False)
    sock = warm.connect(warm.address(root), _ACCEPT_TIMEOUT)
    if sock is None:
        raise Absent(spawn=True)
    try:
        return _session(sock, args)
    finally:
        sock.close()


def _session(sock: _socket.socket, args: list[str]) -> int:
    buffer = bytearray()
    try:
        request = {"op": "run", "args": args, "argv0": sys.argv[0], "cwd": os.getcwd(),
                   "env": dict(os.environ), "umask": _umask()}
        warm.send_request(sock, request, [0, 1, 2])
        first = warm.read_line(sock, buffer)
    except OSError:
        raise Absent(spawn=False) from None  # busy or going away: nothing has run yet
    if not first.startswith(b"P"):
        raise Absent(spawn=first == b"stale")
    _forward_signals(sock)
    sock.settimeout(None)
    try:
        line = warm.read_line(sock, buffer)
    except OSError:
        line = b""
    if line.startswith(b"X"):
        return int(line[1:])
    if line.startswith(b"S"):
        _die_like(int(line[1:]))
    sys.stderr.write("pycompose: lost the warm engine process while the command ran\n")
    return EXIT_LOST


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _forward_signals(sock: _socket.socket) -> None:
    import _signal as signal

    def forward(signum: int, _frame: object) -> None:
        try:
            sock.send(b"K%d\n" % signum)
        except OSError:
            pass

    def suspend(signum: int, _frame: object) -> None:
        forward(signum, _frame)  # the command stops too, then this process (job control)
        os.kill(os.getpid(), signal.SIGSTOP)

    for name in _FORWARD:
        signal.signal(getattr(signal, name), forward)
    signal.signal(signal.SIGTSTP, suspend)


def _die_like(signum: int) -> None:
    """The command was killed by ``signum``: end this process the same way."""
    import _signal as signal

    sys.stdout.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    os._exit(128 + signum)


# Commands that have the engine they start fork a project supervisor and the DNS daemon
# (``up`` and what starts containers): while such a command runs, the engine starts the shim
# server it keeps and loads what those daemons need before they can serve
# (:func:`compose.cli.warmpreload.for_daemons`).
DAEMON_COMMANDS = frozenset({"up", "run", "start", "restart"})


def start_engine(command: str) -> None:
    """Start a warm engine for this state root in the background (it gives way at once when
    another one won the race); never fails the command that asked. This command's own
    daemons (project supervisor, DNS daemon, shim fork server) are then forked by it
    (:func:`engine.warm.use_starting`); told which ``command`` started it, the engine
    prepares them while the command loads its project."""
    from engine.proctitle import PADDING  # room for the command lines of forked processes

    root = state_root()
    if root is None:
        return
    try:
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return
    ready_read = ready_write = -1
    try:
        ready_read, ready_write = os.pipe2(os.O_CLOEXEC)
        argv = [sys.executable, "-P", "-m", "compose.cli.warmserver", str(warm.READY_FD),
                f"--for={command}", PADDING]
        os.posix_spawn(sys.executable, argv, os.environ, setsid=True,
                       file_actions=[*((os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)),
                                     (os.POSIX_SPAWN_DUP2, ready_write, warm.READY_FD)])
    except OSError:
        if ready_read >= 0:
            os.close(ready_read)
        return
    finally:
        os.close(devnull)
        if ready_write >= 0:
            os.close(ready_write)
    warm.use_starting(warm.address(root), ready_read, command in DAEMON_COMMANDS)


def report_modules() -> None:
    """After an in-process command that started an engine: tell it which modules this
    command used, so that its preload loads those first (the next command is most likely
    of the same kind: the ``down`` after an ``up``, a ``ps``). Never fails the command."""
    root = state_root()
    if root is not None:  # (not listening yet, after a short command: it keeps its own order)
        warm.tell({"op": "learn", "modules": sorted(sys.modules), "first": True},
                  warm.address(root))
