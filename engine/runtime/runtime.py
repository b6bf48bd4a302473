"""``BuiltinRuntime``: the OCI runtime as a library (create/start/state/kill/pause/resume/exec/
delete), forking the container from the calling process (no interpreter start per container).
"""
from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any

from engine import cgroups
from engine.errors import Conflict, EngineError, MissingPrivilege, NotFound
from engine.fdwait import readable
from engine.paths import ensure_spread_dir, state_root
from engine.procstat import live_start
from engine.runtime import init as init_mod
from engine.runtime import seccomp
from engine.runtime import spec as spec_mod
from engine.runtime import syscalls as sc
from engine.runtime.children import (
    ExecFailed,
    error_from,
    fork_child,
    reap,
    wait_pid_and_ready,
)
from engine.runtime.hooks import early_hooks, run_hooks
from engine.runtime.state import (
    EXEC_ERROR,
    FIFO,
    OCI_VERSION,
    RuntimeState,
    Status,
    check_allowed,
    is_alive,
)
from engine.runtime.sync import Msg, pair, recv, send

__all__ = ["BuiltinRuntime", "ExecFailed"]

log = logging.getLogger(__name__)



class BuiltinRuntime:
    """The built-in OCI runtime. State lives in ``<root>/<id>/``."""

    name = "builtin"

    def __init__(self, root: Path | None = None,
                 cgroup_driver: cgroups.CgroupDriver | None = None) -> None:
        self.root = root or state_root() / "runtime"
        self._cgroups = cgroup_driver

    @property
    def cgroups(self) -> cgroups.CgroupDriver:
        """The host's cgroup driver (probed on first use)."""
        if self._cgroups is None:
            self._cgroups = cgroups.driver()
        return self._cgroups

    @property
    def seccomp_cache(self) -> Path:
        """Where compiled seccomp programs are kept (next to the runtime's state)."""
        return self.root.parent / "cache" / "seccomp"

    def _dir(self, cid: str) -> Path:
        if not cid or "/" in cid or cid in (".", ".."):
            raise EngineError("invalid container id", step="runtime", obj=cid)
        return self.root / cid

    # -- create / start ------------------------------------------------------------------------

    def create(self, cid: str, bundle: Path, *, pid_file: Path | None = None,
               stdin: int | None = None, stdout: int | None = None, stderr: int | None = None,
               console_socket: Path | None = None) -> int:
        """Set the container up and leave its init blocked before execve; return its host pid."""
        if os.geteuid() != 0:  # rootless commands run as root in their user namespace
            raise MissingPrivilege("the built-in runtime needs root, or the rootless user "
                                   "namespace (engine.rootless.join.enter) to create "
                                   "namespaces, mounts and cgroups", step="create", obj=cid)
        bundle = Path(bundle).resolve()
        config = spec_mod.load_config(bundle)
        plan = spec_mod.plan_from_config(config, bundle, cid)
        if not plan.has_ns("mount"):
            raise EngineError("a mount namespace is required", step="create", obj=cid)
        if plan.seccomp is not None:  # errors here, and the init only loads it
            seccomp.compile_bpf(plan.seccomp, self.seccomp_cache)
        state_dir = self._dir(cid)
        ensure_spread_dir(self.root, 0o700)
        try:
            state_dir.mkdir(mode=0o711)
        except FileExistsError as e:
            raise Conflict("container id already in use", step="create", obj=cid) from e
        try:
            return self._create(cid, bundle, config, plan, state_dir, pid_file,
                                (stdin, stdout, stderr), console_socket)
        except BaseException:
            self._cleanup_failed(plan.cgroup_path, state_dir)
            raise

    def _create(self, cid: str, bundle: Path, config: dict[str, Any], plan: spec_mod.InitPlan,
                state_dir: Path, pid_file: Path | None, stdio: tuple[int | None, ...],
                console_socket: Path | None) -> int:
        os.mkfifo(state_dir / FIFO, 0o600)
        (state_dir / EXEC_ERROR).touch(0o600)
        for name in (FIFO, EXEC_ERROR):  # the init opens them after dropping privileges
            os.chown(state_dir / name, _host_id(plan.uid_mappings, plan.process.uid),
                     _host_id(plan.gid_mappings, plan.process.gid))
        self.cgroups.create(plan.cgroup_path, plan.resources)
        console = _connect_console(console_socket) if plan.process.terminal else None
        parent, child = pair()
        dir_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        cgroups, cgroup_path = self.cgroups, plan.cgroup_path
        v2_dir = cgroups.v2_dir(cgroup_path)
        ctx = init_mod.InitContext(plan=plan, process=plan.process, s=sc.LinuxSyscalls(),
                                   sock=child, console=console, state_dir_fd=dir_fd,
                                   join_cgroup=lambda v2: cgroups.join_self(cgroup_path, v2=v2),
                                   cgroup_v2_dir=str(v2_dir) if v2_dir else None)
        keep = {child.fileno(), dir_fd, *([console.fileno()] if console else [])}
        init_pid = pid_a = 0
        if init_mod.can_clone_init(plan) and threading.active_count() == 1:
            with contextlib.suppress(OSError):  # refused: the bootstrap way says why
                init_pid = init_mod.clone_init(ctx, stdio, keep)
        if not init_pid:
            pid_a = fork_child(lambda: init_mod.bootstrap(ctx, cid), stdio, keep)
        child.close()
        os.close(dir_fd)
        if console:
            console.close()
        with parent:
            init_pid = self._drive_create(cid, plan, parent, pid_a, bundle, init_pid)
        st = RuntimeState(id=cid, pid=init_pid, bundle=str(bundle), rootfs=plan.rootfs,
                          cgroup_path=plan.cgroup_path, created=time.time(),
                          pid_start_time=live_start(init_pid) or 0,
                          annotations=dict(config.get("annotations") or {}),
                          namespaces=[list(n) for n in plan.namespaces])
        st.save(state_dir)
        if pid_file:
            _write_pid_file(pid_file, init_pid)
        return init_pid

    def _drive_create(self, cid: str, plan: spec_mod.InitPlan, sock: socket.socket,
                      pid_a: int, bundle: Path, init_pid: int = 0) -> int:
        """Serve the create's processes until the init is ready: A (``pid_a``; 0 when the
        init was cloned directly, ``init_pid`` then) and the init."""
        hooks_pending = ready = False
        try:
            while True:
                msg = recv(sock, "create", cid)
                kind = msg["type"]
                if kind == Msg.USERNS:
                    _write_id_maps(pid_a, plan)
                    send(sock, Msg.MAPPED)
                elif kind == Msg.PID:
                    init_pid = int(msg["pid"])
                    reap(pid_a)
                elif kind == Msg.HOOKS:
                    hooks_pending = True
                if hooks_pending and init_pid:  # HOOKS may overtake PID: need both
                    hooks_pending = False
                    self._run_early_hooks(cid, plan, init_pid, bundle)
                    send(sock, Msg.GO)
                if kind == Msg.WARNING:
                    log.warning("container %s: %s", cid, msg["message"])
                elif kind == Msg.READY:
                    ready = True
                elif kind == Msg.ERROR:
                    raise error_from(msg, cid)
                if ready and init_pid:  # A's PID and B's READY come from two processes:
                    return init_pid    # either may arrive first
        except BaseException:
            if pid_a:
                with contextlib.suppress(OSError):
                    os.kill(pid_a, signal.SIGKILL)
                reap(pid_a)
            if init_pid:
                with contextlib.suppress(OSError):
                    os.kill(init_pid, signal.SIGKILL)
                reap(init_pid)
            raise

    @staticmethod
    def _run_early_hooks(cid: str, plan: spec_mod.InitPlan, pid: int, bundle: Path) -> None:
        state = {"ociVersion": OCI_VERSION, "id": cid, "status": "creating", "pid": pid,
                 "bundle": str(bundle)}
        for kind, hooks in early_hooks(plan.hooks):
            run_hooks(kind, hooks, state, fatal=True)

    def _cleanup_failed(self, cgroup_path: str, state_dir: Path) -> None:
        with contextlib.suppress(EngineError):
            if self.cgroups.exists(cgroup_path):
                self._kill_and_remove_cgroup(cgroup_path)
        shutil.rmtree(state_dir, ignore_errors=True)

    def start(self, cid: str) -> None:
        """Let the container's init execve the user process."""
        st = self._load(cid)
        check_allowed("start", self._status(st), cid)
        fifo = self._dir(cid) / FIFO
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            while not readable([fd], 0.1):
                if not is_alive(st):
                    raise EngineError("container init exited before start", step="start",
                                      obj=cid)
            if not os.read(fd, 1):
                raise EngineError("container init closed exec.fifo", step="start", obj=cid)
        finally:
            os.close(fd)
            with contextlib.suppress(FileNotFoundError):
                fifo.unlink()
        self._late_hooks(st, "poststart", "running")

    def _late_hooks(self, st: RuntimeState, kind: str, status: str) -> None:
        try:
            hooks = (spec_mod.load_config(Path(st.bundle)).get("hooks") or {}).get(kind)
        except EngineError:
            return  # the bundle is gone: nothing to run
        if hooks:
            state = {"ociVersion": OCI_VERSION, "id": st.id, "status": status, "pid": st.pid,
                     "bundle": st.bundle, "annotations": st.annotations}
            run_hooks(kind, list(hooks), state, fatal=False)

    # -- inspection --------------------------------------------------------------------------

    def _load(self, cid: str) -> RuntimeState:
        return RuntimeState.load(self._dir(cid), cid)

    def _status(self, st: RuntimeState) -> Status:
        if not is_alive(st):
            return Status.STOPPED
        if self.cgroups.exists(st.cgroup_path) and self.cgroups.is_frozen(st.cgroup_path):
            return Status.PAUSED
        if (self._dir(st.id) / FIFO).exists():
            return Status.CREATED
        return Status.RUNNING

    def state(self, cid: str) -> dict[str, Any]:
        """OCI state of the container."""
        st = self._load(cid)
        status = self._status(st)
        out: dict[str, Any] = {
            "ociVersion": OCI_VERSION, "id": cid, "status": status.value,
            "pid": st.pid if status != Status.STOPPED else 0, "bundle": st.bundle,
            "rootfs": st.rootfs, "created": st.created, "annotations": st.annotations,
        }
        err = self._dir(cid) / EXEC_ERROR
        if err.exists() and err.stat().st_size:
            out["execError"] = err.read_text()
        return out

    def list(self) -> list[str]:
        """Ids of every container with runtime state."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if (p / "state.json").exists())

    # -- signals and freezer -----------------------------------------------------------------

    def kill(self, cid: str, sig: int, *, all: bool = False) -> None:
        """Send ``sig`` to the init (or to every process in its cgroup with ``all``)."""
        st = self._load(cid)
        status = self._status(st)
        if all:
            if self.cgroups.exists(st.cgroup_path):
                self.cgroups.kill_all(st.cgroup_path, sig)
            elif is_alive(st):  # no cgroup (rootless without delegation): the init, whose
                os.kill(st.pid, sig)  # pid namespace takes every process with it on SIGKILL
            return
        check_allowed("kill", status, cid)
        os.kill(st.pid, sig)

    def pause(self, cid: str) -> None:
        """Freeze every process of the container."""
        st = self._load(cid)
        check_allowed("pause", self._status(st), cid)
        self.cgroups.freeze(st.cgroup_path)

    def resume(self, cid: str) -> None:
        """Thaw a paused container."""
        st = self._load(cid)
        check_allowed("resume", self._status(st), cid)
        self.cgroups.thaw(st.cgroup_path)

    # -- exec ----------------------------------------------------------------------------------

    def exec(self, cid: str, process: dict[str, Any], *, stdin: int | None,
             stdout: int | None, stderr: int | None, tty: bool = False,
             console_socket: Path | None = None) -> int:
        """Run ``process`` (OCI process object) inside the container; return its host pid.
        With a terminal and ``console_socket``, the process gets a pty of the container's
        devpts and the master goes to the socket (runc exec --console-socket)."""
        st = self._load(cid)
        check_allowed("exec", self._status(st), cid)
        config = spec_mod.load_config(Path(st.bundle))
        plan = spec_mod.plan_from_config(config, Path(st.bundle), cid)
        proc = spec_mod.parse_process(spec_mod.exec_process(config, process, tty))
        if plan.seccomp is not None:
            seccomp.compile_bpf(plan.seccomp, self.seccomp_cache)
        console = _connect_console(console_socket) if proc.terminal else None
        parent, child = pair()
        cgroups = self.cgroups
        v2_dir = cgroups.v2_dir(st.cgroup_path)
        ctx = init_mod.InitContext(plan=plan, process=proc, s=sc.LinuxSyscalls(), sock=child,
                                   console=console,
                                   join_cgroup=lambda v2: cgroups.join_self(st.cgroup_path, v2=v2),
                                   cgroup_v2_dir=str(v2_dir) if v2_dir else None)
        pid_a = fork_child(lambda: init_mod.exec_bootstrap(ctx, st.pid),
                            (stdin, stdout, stderr),
                            {child.fileno(), *([console.fileno()] if console else [])})
        child.close()
        if console:
            console.close()
        with parent:
            pid, error = wait_pid_and_ready(parent, cid, pid_a)
        if error is not None:
            # A zombie inside the container's pid namespace would keep its init from ever
            # finishing exit; reap the failed process if it became our child.
            if pid:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
                reap(pid)
            raise error
        return pid

    # -- delete --------------------------------------------------------------------------------

    def delete(self, cid: str, *, force: bool = False) -> None:
        """Remove the container's cgroup and runtime state; ``force`` kills it first."""
        try:
            st = self._load(cid)
        except NotFound:
            if force:
                return
            raise
        status = self._status(st)
        if status in (Status.RUNNING, Status.PAUSED) and not force:
            raise Conflict(f"container is {status.value}; stop it or use force", step="delete",
                           obj=cid)
        self._kill_and_remove_cgroup(st.cgroup_path)
        self._late_hooks(st, "poststop", "stopped")
        shutil.rmtree(self._dir(cid), ignore_errors=True)

    def _kill_and_remove_cgroup(self, path: str) -> None:
        cg = self.cgroups
        if not cg.exists(path):
            return
        if cg.pids(path):
            if cg.is_frozen(path):
                cg.thaw(path)
            cg.kill_all(path, signal.SIGKILL)
            deadline = time.monotonic() + 10
            while cg.pids(path):
                if time.monotonic() > deadline:
                    raise EngineError("processes did not die after SIGKILL", step="delete",
                                      obj=path)
                time.sleep(0.002)
        cg.delete(path)












def _connect_console(path: Path | None) -> socket.socket | None:
    if path is None:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError as e:
        sock.close()
        raise EngineError(e.strerror or str(e), step="console socket", obj=str(path)) from e
    return sock


def _write_id_maps(pid: int, plan: spec_mod.InitPlan) -> None:
    for name, maps in (("uid_map", plan.uid_mappings), ("gid_map", plan.gid_mappings)):
        lines = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(lines)


def _host_id(mappings: tuple[dict[str, int], ...], cid: int) -> int:
    """Translate a container uid/gid to the host's through the user namespace mappings."""
    for m in mappings:
        if m["containerID"] <= cid < m["containerID"] + m["size"]:
            return m["hostID"] + cid - m["containerID"]
    return cid


def _write_pid_file(path: Path, pid: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(str(pid))
    os.replace(tmp, path)
