"""Looking into a container: exec, logs, stats, top."""
from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from datetime import datetime

from engine.containers import execution, logfile, paths, procinfo, record
from engine.containers.lifecycle import refresh
from engine.containers.spec import LogLine, Process, State, Stats
from engine.errors import Conflict, EngineError, LogsNotSupported

log = logging.getLogger(__name__)


def _running(ref: str, step: str) -> str:
    info = refresh(record.get(ref).id)
    if info.state is State.PAUSED:
        raise Conflict("container is paused, unpause it first", step=step, obj=info.name)
    if info.state is not State.RUNNING:
        raise Conflict(f"container is {info.state.value}, not running", step=step,
                       obj=info.name)
    return info.id


def exec(ref: str, argv: list[str] | tuple[str, ...], *, env: tuple[str, ...] = (),
         user: str = "", workdir: str = "", tty: bool = False, stdin: int | None = None,
         stdout: int | None = None, stderr: int | None = None, privileged: bool = False,
         proxy_signals: bool = False, detach: bool = False) -> int:
    """Run ``argv`` inside the running container (all its namespaces and its cgroup) and
    return its exit code; docker's 126/127 when it cannot be started (the reason goes to
    ``stderr``). stdio are file descriptors; None means /dev/null. With ``tty`` the process
    gets a pseudo-terminal relayed to ``stdin``/``stdout`` (see execution.run_with_pty);
    without, ``proxy_signals`` sends SIGINT/SIGTERM/SIGHUP/SIGQUIT received here to it.
    ``detach``: return 0 once the process started (it keeps running, output discarded)."""
    cid = _running(ref, "exec")
    if tty and not any(e.startswith("TERM=") for e in env):
        env = (*env, "TERM=xterm")
    process = execution.build_process(cid, list(argv), env, user, workdir, tty=tty,
                                      privileged=privileged)
    try:
        if tty:
            return execution.run_with_pty(cid, process, stdin, stdout)
        return execution.run(cid, process, stdin, stdout, stderr,
                             proxy_signals=proxy_signals, detach=detach)
    except Conflict:
        raise
    except EngineError as exc:
        code = getattr(exc, "exit_code", None)
        if code is None:
            raise
        if stderr is not None:
            os.write(stderr, f"{exc}\n".encode())
        return int(code)


def exec_output(ref: str, argv: list[str] | tuple[str, ...], *, env: tuple[str, ...] = (),
                user: str = "", workdir: str = "", timeout: float | None = None
                ) -> tuple[int, bytes, bytes]:
    """Like :func:`exec`, returning (exit code, stdout, stderr). Past ``timeout`` the process
    and its process group are killed and :class:`ExecTimeout` is raised."""
    cid = _running(ref, "exec")
    process = execution.build_process(cid, list(argv), env, user, workdir)
    try:
        return execution.run_captured(cid, process, timeout=timeout)
    except (Conflict, execution.ExecTimeout):
        raise
    except EngineError as exc:
        code = getattr(exc, "exit_code", None)
        if code is None:
            raise
        return int(code), b"", f"{exc}\n".encode()


def logs(ref: str, follow: bool = False, since: str | float | datetime | None = None,
         tail: int | None = None) -> Iterator[LogLine]:
    """The container's output lines; ``follow`` keeps yielding while it runs. ``since``
    takes docker's forms (RFC 3339, unix time, or a duration like ``10m``)."""
    info = record.get(ref)
    cid = info.id
    if record.spec_from_json(info.spec).log_driver == "none":
        raise LogsNotSupported("configured logging driver does not support reading",
                               step="logs", obj=info.name)
    try:
        since = logfile.normalize_since(since)
    except ValueError as exc:
        raise EngineError(str(exc), step="logs", obj=ref) from None
    row = record.raw(cid)
    shim_pid, shim_start = row["shim_pid"], row["shim_start"]

    def alive() -> bool:
        return procinfo.alive(shim_pid, shim_start)

    if not follow:
        return logfile.read(paths.log_file(cid), since=since, tail=tail)
    return _follow(cid, since, tail, alive, shim_pid)


def _follow(cid: str, since: str | None, tail: int | None, alive: Callable[[], bool],
            shim_pid: int) -> Iterator[LogLine]:
    exit_fd = None
    if alive():
        try:
            exit_fd = os.pidfd_open(shim_pid)
        except ProcessLookupError:
            exit_fd = None
    try:
        yield from logfile.read(paths.log_file(cid), since=since, tail=tail, follow=True,
                                alive=alive, exit_fd=exit_fd)
    finally:
        if exit_fd is not None:
            os.close(exit_fd)


def stats(ref: str) -> Stats:
    """CPU time, memory and pids of the running container (from its cgroup)."""
    cid = refresh(record.get(ref).id).id
    from engine.cgroups import driver

    try:
        s = driver().stats(paths.cgroup_path(cid))
    except (OSError, EngineError) as exc:
        raise Conflict(f"no statistics: {exc}", step="stats", obj=cid[:12]) from None
    # like docker stats: page cache the kernel can drop (inactive_file) is not "usage"
    usage = max(s.memory_usage - s.memory_inactive_file, 0)
    return Stats(cpu_usage_ns=s.cpu_usage_ns, memory_usage=usage,
                 memory_limit=s.memory_limit or None, pids_current=s.pids_current,
                 pids_limit=s.pids_limit or None, block_read=s.io_read_bytes,
                 block_write=s.io_write_bytes)


def top(ref: str) -> list[Process]:
    """The processes of the container, as host pids."""
    cid = _running(ref, "top") if record.get(ref).state is not State.PAUSED else \
        record.get(ref).id
    return [p for p in map(procinfo.describe, procinfo.cgroup_pids(cid)) if p is not None]
