"""What a process the warm engine forks becomes: a client's command, or a detached daemon
(see :mod:`compose.cli.warmserver`)."""
from __future__ import annotations

import io
import os
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from engine import proctitle, warm


def become_command(close: Callable[[], None], address: str, request: dict[str, Any],
                   fds: list[int]) -> int:
    """Become the client's command: its streams, place and environment; then run it
    (``close`` drops the server's descriptors)."""
    close()
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
    for fd in fds:
        if fd > 2:
            os.close(fd)
    os.umask(int(request.get("umask", 0o022)))
    _take_environment(request, str(request.get("cwd", "/")))
    args = [str(a) for a in request["args"]]
    sys.argv = [str(request.get("argv0", "pycompose")), *args]
    proctitle.set_cmdline([sys.executable, *sys.argv])
    warm.server_address = address
    from compose.cli.main import main

    try:
        return main(args)
    except SystemExit as exc:
        return _exit_code(exc)


def become_daemon(close: Callable[[], None], request: dict[str, Any], fds: list[int]) -> int:
    """Become ``python <argv>`` with the given descriptors at the given numbers."""
    import fcntl

    close()
    warm.detached = True
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 256) for fd in fds]
    for fd in fds:
        os.close(fd)
    targets = [int(t) for t in request["targets"]]
    for target, fd in zip(targets, high, strict=True):
        os.dup2(fd, target, inheritable=True)
    low = 0
    for keep in [*sorted(set(targets)), os.sysconf("SC_OPEN_MAX")]:
        if low < keep:  # (an empty range would reach close_range as "up to the maximum")
            os.closerange(low, keep)  # everything else the engine had open goes
        low = keep + 1
    _take_environment(request, "/")
    argv = [str(a) for a in request["argv"]]
    proctitle.set_cmdline([sys.executable, *argv])
    while argv and argv[0] not in ("-m", "-c") and argv[0].startswith("-"):
        argv.pop(0)  # interpreter flags (-S): this interpreter is already set up
    try:
        if len(argv) >= 2 and argv[0] == "-m":
            import runpy
            import warnings

            # the engine has imported the module (its preload): run as __main__ all the same
            warnings.filterwarnings("ignore", r".* found in sys\.modules after import of package",
                                    RuntimeWarning, "runpy")
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


def _take_environment(request: dict[str, Any], cwd: str) -> None:
    """Default signal handlers, the requester's environment (and time zone), ``cwd``, and
    fresh ``sys.std*`` over the descriptors now at 0-2."""
    _default_signals()
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request.get("env", {})).items()})
    time.tzset()  # the caller's TZ, not the engine's
    os.chdir(cwd)
    _reopen_stdio()


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


# In a command child: a duplicate of the client's connection, on which :func:`finish` writes
# the exit line itself (the server, which writes it too once it reaps the child, may be busy).
exit_line_fd = -1


def finish(code: int) -> None:
    """End a forked child as an interpreter ends, without tearing down the inherited modules;
    the exit line goes after the output (the client ends when it reads it)."""
    from compose.cli.main import end_without_teardown

    def exit_line(status: int) -> None:
        if exit_line_fd >= 0:
            try:
                os.write(exit_line_fd, b"X%d\n" % status)
            except OSError:
                pass

    end_without_teardown(code, exit_line)


# -- start-up ----------------------------------------------------------------------------------
