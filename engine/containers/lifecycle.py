"""Container lifecycle: create, start, stop, kill, pause, unpause, restart, wait, delete.

Every operation takes a per-container file lock (two CLI processes acting on the same container
serialize), re-reads the row, reconciles it with the kernel (see :func:`refresh`), checks the
transition table, then acts; every state change goes through the table
(:func:`record.transition`). Creating kernel objects always comes after the row that names
them. ``start`` hands its lock to the new shim, which keeps it until it has recorded the start:
a caller killed in the middle never leaves a running container whose row says ``created``.
"""
from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from engine import store
from engine.containers import paths, procinfo, record, rootfs, shim
from engine.containers.bundle import HostFacts, build_config, signal_number
from engine.containers.query import not_lost as _not_lost
from engine.containers.runtimes import Runtime, get_runtime, runtime_knows
from engine.containers.spec import ContainerInfo, ContainerSpec, ExitStatus, MountType, State
from engine.containers.states import check_transition
from engine.containers.users import resolve_user
from engine.errors import Conflict, EngineError, MissingPrivilege
from engine.naming import CGROUP_PARENT, new_id
from engine.paths import ensure_dir, ensure_spread_dir

log = logging.getLogger(__name__)

_ACTIVE = (State.RUNNING, State.PAUSED)
_SHIM_LOST_CODE = 255


def create(spec: ContainerSpec) -> ContainerInfo:
    """Record a new container and prepare its directories (nothing runs yet)."""
    _validate(spec)
    cid = new_id()
    try:
        info = record.insert(cid, spec)  # write-ahead: the row exists before any file or mount
        ensure_spread_dir(paths.containers_root())
        for d in (paths.container_dir(cid), paths.bundle_dir(cid)):
            ensure_dir(d, 0o710)
        ensure_dir(paths.upper_dir(cid), 0o755)
        ensure_dir(paths.work_dir(cid), 0o700)
    except (PermissionError, sqlite3.OperationalError) as exc:
        raise MissingPrivilege(f"cannot write the engine state ({exc}); containers need root",
                               step="create", obj=spec.name) from None
    return info


def _validate(spec: ContainerSpec) -> None:
    if not spec.argv:
        raise EngineError("no command specified", step="create", obj=spec.name)
    if bool(spec.layers) == (spec.rootfs is not None):
        raise EngineError("give either image layers or a rootfs directory", step="create",
                          obj=spec.name)
    if not spec.name or "/" in spec.name:
        raise EngineError(f"invalid container name {spec.name!r}", step="create", obj=spec.name)


_held = threading.local()  # the container locks this thread holds (flock is per open file)


@contextmanager
def locked(cid: str) -> Iterator[int]:
    """Serialize operations on one container across processes (re-entrant per thread); yields
    the locked descriptor (whoever holds a copy of it holds the lock)."""
    held: dict[str, int] = _held.__dict__.setdefault("fds", {})
    if cid in held:
        yield held[cid]
        return
    path = paths.container_dir(cid) / "lock"
    ensure_dir(path.parent, 0o710)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        held[cid] = fd
        yield fd
    finally:
        held.pop(cid, None)
        os.close(fd)


def start(ref: str) -> ContainerInfo:
    """Mount the rootfs, write config.json and start the container under a new shim."""
    cid = record.get(ref).id
    with locked(cid) as lock_fd:
        info = refresh(cid)
        check_transition(info.state, State.RUNNING, info.name)
        spec = record.spec_from_json(info.spec)
        runtime = get_runtime()
        if info.runtime and runtime_knows(info.runtime, cid):  # a shim died mid-teardown
            log.warning("container %s: removing the previous run's runtime state", cid[:12])
            _teardown_runtime(cid, info.runtime)
        _prepare_bundle(cid, spec)
        record.update(cid, runtime=runtime.name)
        report = shim.spawn(cid, runtime.name, lock_fd)  # the shim records the outcome
        if not report.get("ok"):
            raise _start_error(cid, info.name, runtime.name, report)
        return record.get(cid)


def _start_error(cid: str, name: str, runtime_name: str, report: dict[str, Any]) -> EngineError:
    """The error of a failed start; what the shim could not record and undo (it died before
    reporting) is done here."""
    code = int(report.get("exit_code", 128))
    message = str(report.get("error", "start failed"))
    if not report.get("recorded"):
        _teardown_runtime(cid, runtime_name)
        record.update(cid, exit_code=code, error=message, finished_at=record.now())
    err = EngineError(message, step="start", obj=name)
    err.exit_code = code  # type: ignore[attr-defined]
    return err


def _prepare_bundle(cid: str, spec: ContainerSpec) -> None:
    target = paths.rootfs_dir(cid)
    rootfs.unmount(target)  # a leftover from a crashed shim
    if spec.rootfs is not None:
        rootfs.bind_rootfs(spec.rootfs, target)
    else:
        rootfs.mount_overlay(spec.layers, paths.upper_dir(cid), paths.work_dir(cid), target)
    try:
        _check_mount_sources(spec)
        spec = _resolve_shared_namespaces(spec)
        user = resolve_user(target, spec.user, spec.group_add)
        config = build_config(cid, spec, user, host_facts())
        # compact: with an indent, json uses its pure-Python encoder (4-5x slower)
        (paths.bundle_dir(cid) / "config.json").write_text(
            json.dumps(config, separators=(",", ":")))
    except BaseException:
        rootfs.unmount(target)
        raise


def _check_mount_sources(spec: ContainerSpec) -> None:
    for m in spec.mounts:
        if m.type is MountType.TMPFS:
            continue
        if m.type is MountType.IMAGE:
            missing = [d for d in m.lower if not Path(d).is_dir()]
            if missing or not m.lower:
                raise EngineError(f"image mount layers are missing: {missing or 'none'}",
                                  step="mount", obj=f"{spec.name}:{m.target}")
            continue
        if Path(m.source).exists():  # a directory or a single file (docker binds both)
            continue
        if m.create_host_path:
            ensure_dir(Path(m.source), 0o755)
        else:
            raise EngineError(f"bind source path does not exist: {m.source}", step="mount",
                              obj=f"{spec.name}:{m.target}")


def _resolve_shared_namespaces(spec: ContainerSpec) -> ContainerSpec:
    """``container:<ref>`` pid/ipc modes → the namespace files of that running container."""
    changes: dict[str, Any] = {}
    for field, kind in (("pid_mode", "pid"), ("ipc_mode", "ipc")):
        mode: str = getattr(spec, field)
        if not mode.startswith("container:"):
            continue
        other = refresh(record.get(mode.removeprefix("container:")).id)
        if other.state not in _ACTIVE or not other.pid:
            raise Conflict(f"{field.replace('_', ' ')} {mode}: that container is not running",
                           step="start", obj=spec.name)
        changes[field] = f"/proc/{other.pid}/ns/{kind}"
    return dataclasses.replace(spec, **changes) if changes else spec


def host_facts() -> HostFacts:
    """What the bundle depends on from this host: probed once per process and ``PATH`` (each
    probe is some 40 stat calls, most of them the search for an init binary)."""
    path = os.environ.get("PATH")
    facts = _host_facts.get(path)
    if facts is None:
        facts = _host_facts[path] = _probe_host()
    return facts


_host_facts: dict[str | None, HostFacts] = {}


def _probe_host() -> HostFacts:
    cg = Path("/sys/fs/cgroup")
    unified = (cg / "cgroup.controllers").exists()
    v2 = cg.joinpath("cgroup.controllers").read_text().split() if unified else []
    # v2: swap is accounted with the memory controller; weights need io (v1: CFQ/BFQ files)
    memsw = "memory" in v2 or (cg / "memory/memory.memsw.limit_in_bytes").exists()
    weight = "io" in v2 or any((cg / "blkio" / n).exists()
                               for n in ("blkio.weight", "blkio.bfq.weight"))
    tini = shutil.which("tini-static") or shutil.which("docker-init")
    return HostFacts(swap_accounting=memsw, init_binary=tini, blkio_weight=weight)


def refresh(cid: str) -> ContainerInfo:
    """Reconcile the row with the kernel: a running container whose shim and init are both
    gone (SIGKILLed shim, host crash) is marked exited and its leftovers removed."""
    info = record.get(cid)
    if _not_lost(info):
        return info
    # Repair under the lock, from a row read again: the one read above may be stale (its run
    # ended and a stop + start made a new one meanwhile), and tearing down on its word would
    # kill the new run (same runtime id, same cgroup).
    with locked(cid):
        info = record.get(cid)
        if _not_lost(info):
            return info
        return _mark_lost(cid, info)


def _mark_lost(cid: str, info: ContainerInfo) -> ContainerInfo:
    if info.state not in _ACTIVE:
        return info
    log.warning("container %s: shim and init are gone; marking it exited", cid[:12])
    _teardown_runtime(cid, info.runtime)
    record.transition(cid, State.EXITED, exit_code=_SHIM_LOST_CODE, pid=0,
                      oom_killed=int(procinfo.oom_killed(cid)), finished_at=record.now(),
                      error="the container's shim exited without recording the exit")
    return record.get(cid)


def _teardown_runtime(cid: str, runtime_name: str) -> None:
    if runtime_knows(runtime_name, cid):  # the shim normally did this already
        try:
            _runtime(runtime_name).delete(cid, force=True)
        except EngineError as exc:
            log.debug("runtime delete %s: %s", cid[:12], exc)
    rootfs.unmount(paths.rootfs_dir(cid))


def _runtime(name: str) -> Runtime:
    return get_runtime(name or None)


def wait(ref: str, timeout: float | None = None) -> ExitStatus:
    """Block until the container is not running; return its exit status.

    Raises EngineError on timeout and Conflict for a container that never started.
    """
    cid = record.get(ref).id
    info = refresh(cid)
    if info.state in _ACTIVE:
        row = record.raw(cid)
        store.lend()  # (no connection held while blocked)
        if procinfo.alive(row["shim_pid"], row["shim_start"]):
            done = procinfo.wait_exit(row["shim_pid"], row["shim_start"], timeout)
        else:
            done = procinfo.wait_exit(row["pid"], row["pid_start"], timeout)
        if not done:
            raise EngineError(f"still running after {timeout}s", step="wait", obj=info.name)
        info = refresh(cid)
    if info.exit_code is None:
        raise Conflict("the container has not run yet", step="wait", obj=info.name)
    return ExitStatus(info.exit_code, info.oom_killed, info.error)


def kill(ref: str, sig: int | str = signal.SIGKILL) -> None:
    """Send a signal to the container's main process."""
    cid = record.get(ref).id
    info = refresh(cid)
    if info.state not in _ACTIVE:
        raise Conflict(f"container is {info.state.value}, not running", step="kill",
                       obj=info.name)
    number = signal_number(sig)
    runtime = _runtime(info.runtime)
    try:
        _signal_unless_gone(cid, runtime, number, all=False)
    except EngineError as exc:
        raise EngineError(exc.message, step="kill", obj=info.name) from None
    if info.state is State.PAUSED and number == signal.SIGKILL:
        _resume_for_exit(cid, runtime)


def _resume_for_exit(cid: str, runtime: Runtime) -> None:
    """A frozen process cannot die; thaw it so a fatal signal lands (docker does the same)."""
    try:
        runtime.resume(cid)
    except EngineError as exc:
        log.debug("resume %s: %s", cid[:12], exc)


def stop(ref: str, timeout: float | None = None, *, settled: bool = True
         ) -> ExitStatus | None:
    """Stop signal, grace period (``timeout`` or the spec's), then SIGKILL to every process.

    Stopping a container that is not running is a no-op (returns None), as in docker.
    ``settled=False`` returns (None) once the container's init has exited, which in its own
    PID namespace (not ``pid: host`` or another's) means every process of it: its shim may
    still be tearing it down and recording the exit, which any later operation on it waits
    for. ``down`` stops the next level of services then (each shim's teardown and store
    write took 5-30 ms of every level's stop)."""
    cid = record.get(ref).id
    with locked(cid):
        info = refresh(cid)
        if info.state not in _ACTIVE:
            return None
        spec = record.spec_from_json(info.spec)
        grace = spec.stop_grace_period if timeout is None else timeout
        runtime = _runtime(info.runtime)
        _signal_unless_gone(cid, runtime, signal_number(spec.stop_signal), all=False)
        if info.state is State.PAUSED:
            _resume_for_exit(cid, runtime)
        # the init's exit ends every process only in a PID namespace of the container's own
        until_gone = wait if settled or spec.pid_mode != "private" else _wait_init
        try:
            return until_gone(cid, grace)
        except EngineError:
            log.info("container %s ignored %s for %ss; killing it", info.name,
                     spec.stop_signal, grace)
        _signal_unless_gone(cid, runtime, signal.SIGKILL, all=True)
        return until_gone(cid, None)


def _wait_init(cid: str, timeout: float | None) -> None:
    """Block until the container's init has exited (EngineError on timeout)."""
    row = record.raw(cid)
    store.lend()  # (no connection held while blocked)
    if not procinfo.wait_exit(row["pid"], row["pid_start"], timeout):
        raise EngineError(f"still running after {timeout}s", step="wait", obj=row["name"])


def _signal_unless_gone(cid: str, runtime: Runtime, sig: int, *, all: bool) -> None:
    """Signal the container; a runtime error is fine if init has exited meanwhile (racing
    with its own exit), otherwise it is raised."""
    try:
        runtime.kill(cid, sig, all=all)
    except EngineError:
        row = record.raw(cid)
        if procinfo.alive(row["pid"], row["pid_start"]):
            raise


def pause(ref: str) -> None:
    """Freeze every process of the container."""
    _freeze(ref, State.PAUSED)


def unpause(ref: str) -> None:
    """Thaw a paused container."""
    _freeze(ref, State.RUNNING)


def _freeze(ref: str, target: State) -> None:
    cid = record.get(ref).id
    with locked(cid):
        info = refresh(cid)
        if target is State.RUNNING and info.state is not State.PAUSED:
            raise Conflict(f"container is {info.state.value}, not paused", step="unpause",
                           obj=info.name)
        check_transition(info.state, target, info.name)
        runtime = _runtime(info.runtime)
        (runtime.pause if target is State.PAUSED else runtime.resume)(cid)
        record.transition(cid, target)


def restart(ref: str, timeout: float | None = None) -> ContainerInfo:
    """Stop (if running) and start again."""
    stop(ref, timeout)
    return start(ref)


def note_restart(ref: str) -> None:
    """Count a restart made by a restart policy (RestartCount); an exited container shows
    ``restarting`` until the policy's :func:`start` runs it again."""
    info = refresh(record.get(ref).id)
    count = info.restart_count + 1
    if info.state is State.EXITED:
        record.transition(info.id, State.RESTARTING, restart_count=count)
    else:
        record.update(info.id, restart_count=count)


def delete(ref: str, force: bool = False) -> None:
    """Remove the container: runtime state, rootfs mount, cgroup, bundle, upper dir, row.

    Under the container lock, so a start in flight (its shim holds the lock until it has
    recorded the run) finishes first and is then killed like any running container."""
    cid = record.get(ref).id
    with locked(cid):
        info = refresh(cid)
        if info.state in _ACTIVE:
            if not force:
                raise Conflict(f"cannot remove a {info.state.value} container; stop it first "
                               "or force the removal", step="remove", obj=info.name)
            # not kill(): it refuses a container whose exit got recorded since the refresh
            # above (one that was stopped just before, and whose shim is finishing)
            runtime = _runtime(info.runtime)
            _signal_unless_gone(cid, runtime, signal.SIGKILL, all=False)
            if info.state is State.PAUSED:
                _resume_for_exit(cid, runtime)
            wait(cid, None)
            info = refresh(cid)
        if info.state is not State.REMOVING:  # else: finishing an interrupted removal
            record.transition(cid, State.REMOVING)
        try:
            _remove_everything(cid, info.runtime)
        except BaseException:
            record.transition(cid, State.DEAD)
            raise
    record.remove(cid)


def _remove_everything(cid: str, runtime_name: str) -> None:
    if runtime_name:
        _teardown_runtime(cid, runtime_name)
    rootfs.unmount(paths.rootfs_dir(cid))
    remove_cgroup(cid)
    shutil.rmtree(paths.container_dir(cid), ignore_errors=False)


def remove_cgroup(cid: str) -> None:
    """Kill whatever is left in the container's cgroup (a shim killed mid-create leaves an
    init the runtime has no state for), then remove it, and the parent of every container's
    cgroup once the last one is gone."""
    from engine.cgroups import driver

    drv = driver()
    path = paths.cgroup_path(cid)
    if drv.exists(path):
        if drv.pids(path):
            drv.kill_all(path, signal.SIGKILL)
        drv.delete(path)
    drv.prune(CGROUP_PARENT)


def inspect(ref: str) -> ContainerInfo:
    """The container's current record (reconciled with the kernel)."""
    return refresh(record.get(ref).id)
