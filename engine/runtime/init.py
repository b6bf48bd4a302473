"""The container init, as one readable sequence of named steps (runc's standard init).

Runs in forked children of the caller (see engine.runtime.sync for the protocol):

* ``bootstrap`` (process A): joins the cgroup, joins/creates namespaces, then forks the init
  and exits, so the init is PID 1 of the new pid namespace and is re-parented to the caller's
  subreaper.
* ``container_init`` (process B): [wait for createRuntime/prestart hooks], mounts, devices,
  pivot_root, hostname, sysctls, read-only then masked paths, read-only root, rlimits, user,
  capabilities, no_new_privs, seccomp (before the user switch when no_new_privs is off, like
  runc); reports READY; blocks on ``exec.fifo`` until ``start``; execve.
* ``exec_bootstrap`` / ``exec_init``: the same for a process joining a running container.

Nothing here returns to the caller's code: every path ends in execve or ``os._exit``.
"""
from __future__ import annotations

import fcntl
import os
import socket
import struct
import termios
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.errors import EngineError
from engine.runtime import process as proc_steps
from engine.runtime import rootfs
from engine.runtime import syscalls as sc
from engine.runtime.spec import NS_FLAGS, NS_PROC_NAMES, InitPlan, ProcessPlan
from engine.runtime.state import EXEC_ERROR, FIFO
from engine.runtime.sync import Msg, expect, send


@dataclass
class InitContext:
    """What the init steps share: the plan, the kernel, and the channels to the parent."""

    plan: InitPlan
    process: ProcessPlan
    s: sc.Syscalls
    sock: socket.socket | None = None
    console: socket.socket | None = None
    state_dir_fd: int | None = None
    fifo_fd: int | None = None
    join_cgroup: Callable[[bool], None] | None = None  # moves the caller in (v2 too?)
    cgroup_v2_dir: str | None = None  # where the next process is born (see _fork_into_cgroup)
    warnings: list[str] = field(default_factory=list)


Step = tuple[str, Callable[[InitContext], None]]


class StepFailed(Exception):
    """A named init step failed."""

    def __init__(self, step: str, message: str, exit_code: int = 1) -> None:
        super().__init__(f"{step}: {message}")
        self.step, self.message, self.exit_code = step, message, exit_code


def _seccomp(c: InitContext) -> None:
    assert c.plan.seccomp is not None
    c.s.load_seccomp(c.plan.seccomp, c.process.no_new_privileges)


def _warn_oom(c: InitContext) -> None:
    c.warnings += proc_steps.apply_oom_score_adj(c.process, c.s)


def _network(c: InitContext) -> None:
    if any(k == "network" and p is None for k, p in c.plan.namespaces):
        c.s.loopback_up()


def container_steps(plan: InitPlan) -> list[Step]:
    """The init's steps, in order, for this plan."""
    steps: list[Step] = []
    if any(plan.hooks.get(k) for k in ("createRuntime", "prestart")):
        steps.append(("hooks", wait_for_hooks))
    steps += [
        ("umask", lambda c: c.s.umask(0)),  # device and mount point modes exactly as given
        ("network", _network),
        ("rootfs propagation", lambda c: rootfs.set_root_propagation(c.plan, c.s)),
        ("bind rootfs", lambda c: rootfs.bind_rootfs(c.plan, c.s)),
        ("mounts", lambda c: rootfs.mount_entries(c.plan, c.s)),
        ("devices", lambda c: rootfs.create_devices(c.plan, c.s)),
        ("dev symlinks", lambda c: rootfs.create_dev_symlinks(c.plan, c.s)),
        ("pivot_root", lambda c: rootfs.pivot_root(c.plan, c.s)),
    ]
    if plan.process.terminal:
        steps.append(("console", setup_console))
    # sysctls are written before /proc/sys becomes read-only (runc's order, too)
    steps += [
        ("hostname", lambda c: proc_steps.set_hostname(c.plan, c.s)),
        ("sysctl", lambda c: proc_steps.apply_sysctls(c.plan, c.s)),
        ("readonly paths", lambda c: rootfs.readonly_paths(c.plan, c.s)),
        ("masked paths", lambda c: rootfs.mask_paths(c.plan, c.s)),
        ("readonly root", lambda c: rootfs.readonly_root(c.plan, c.s)),
    ]
    return steps + process_steps(plan, plan.process)


def process_steps(plan: InitPlan, proc: ProcessPlan) -> list[Step]:
    """Steps shared by the container init and exec'd processes."""
    steps: list[Step] = [
        ("rlimits", lambda c: proc_steps.apply_rlimits(c.process, c.s)),
        ("oom_score_adj", _warn_oom),
        ("open exec fifo", open_fifo),
    ]
    # Without no_new_privs, seccomp must load while CAP_SYS_ADMIN is still held (like runc).
    early_seccomp = plan.seccomp is not None and not proc.no_new_privileges
    if early_seccomp:
        steps.append(("seccomp", _seccomp))
    steps += [
        ("user", lambda c: proc_steps.set_user(c.process, c.s)),
        ("cwd", lambda c: proc_steps.change_dir(c.process, c.s)),
        ("capabilities", lambda c: proc_steps.apply_capabilities(c.process, c.s)),
        ("no_new_privs", lambda c: proc_steps.set_no_new_privs(c.process, c.s)),
    ]
    if plan.seccomp is not None and not early_seccomp:
        steps.append(("seccomp", _seccomp))
    return steps


def run_steps(steps: list[Step], ctx: InitContext) -> None:
    """Run steps in order; the first failure becomes StepFailed naming the step."""
    for name, fn in steps:
        try:
            fn(ctx)
        except StepFailed:
            raise
        except OSError as e:
            raise StepFailed(name, f"{e.strerror or e}" + (f": {e.filename}" if e.filename
                                                            else "")) from e
        except Exception as e:  # the init has no caller to propagate to: report everything
            raise StepFailed(name, f"{type(e).__name__}: {e}") from e


def wait_for_hooks(c: InitContext) -> None:
    """Let the parent run createRuntime/prestart hooks now that our namespaces exist."""
    assert c.sock is not None
    send(c.sock, Msg.HOOKS)
    expect(c.sock, Msg.GO, "hooks", "init")


def open_fifo(c: InitContext) -> None:
    """Open exec.fifo O_PATH while still privileged; it is reopened for writing at start."""
    if c.state_dir_fd is not None:
        c.fifo_fd = os.open(FIFO, os.O_PATH | os.O_CLOEXEC, dir_fd=c.state_dir_fd)


def setup_console(c: InitContext) -> None:
    """Allocate a pty in the container's devpts, hand the master to the console socket, make
    the slave our controlling terminal, stdio and /dev/console."""
    slave = _open_console(c)
    name = os.ttyname(slave)
    if not c.s.exists("/dev/console"):
        c.s.touch("/dev/console")
    c.s.mount(name, "/dev/console", "", sc.MS_BIND, "")
    _use_console(c, slave)


def setup_exec_console(c: InitContext) -> None:
    """An exec'd process's terminal: a pty in the container's devpts (the mount namespace was
    joined), master to the console socket, slave owned by the process's user, its controlling
    terminal and stdio (runc exec --console-socket)."""
    slave = _open_console(c)
    os.fchown(slave, c.process.uid, c.process.gid)
    _use_console(c, slave)


def _open_console(c: InitContext) -> int:
    master, slave = os.openpty()
    if c.console is not None:
        socket.send_fds(c.console, [b"console"], [master])
        c.console.close()
    os.close(master)
    return slave


def _use_console(c: InitContext, slave: int) -> None:
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    if c.process.console_size:
        rows, cols = c.process.console_size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def wait_for_start(c: InitContext) -> None:
    """Block until ``start`` opens exec.fifo for reading, then tell it we go."""
    assert c.fifo_fd is not None
    try:
        fd = os.open(f"/proc/self/fd/{c.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
    except OSError:
        assert c.state_dir_fd is not None
        fd = os.open(FIFO, os.O_WRONLY | os.O_CLOEXEC, dir_fd=c.state_dir_fd)
    os.write(fd, b"0")
    os.close(fd)


def report_error(c: InitContext, err: StepFailed) -> None:
    """Tell the parent (if it still listens) why we fail."""
    if c.sock is not None:
        try:
            send(c.sock, Msg.ERROR, step=err.step, message=err.message, exit_code=err.exit_code)
            return
        except OSError:
            pass
    # Nobody listens any more (after READY): the container's stderr is the only witness.
    try:
        os.write(2, f"container init: {err.step}: {err.message}\n".encode())
    except OSError:
        pass


def finish(c: InitContext, wait: bool) -> None:
    """Resolve the command, report READY, wait for start (create only), execve. Never returns."""
    try:
        path = proc_steps.find_executable(c.process)
    except proc_steps.ExecLookupError as e:
        raise StepFailed("exec", str(e), e.exit_code) from e
    assert c.sock is not None
    for w in c.warnings:
        send(c.sock, Msg.WARNING, message=w)
    send(c.sock, Msg.READY)
    c.sock.close()
    c.sock = None
    if wait:
        wait_for_start(c)
    err_fd = None
    if c.state_dir_fd is not None and wait:
        try:
            err_fd = os.open(EXEC_ERROR, os.O_WRONLY | os.O_CLOEXEC, dir_fd=c.state_dir_fd)
        except OSError:
            err_fd = None  # best effort: the exit code (126) still tells the story
    try:
        c.s.execve(path, list(c.process.args), c.process.env)
    except OSError as e:
        if err_fd is not None:
            os.write(err_fd, f"exec {path}: {e.strerror}".encode())
        os._exit(proc_steps.EXIT_CANNOT_EXECUTE)


def close_fds_except(keep: set[int]) -> None:
    """Close every inherited fd except ``keep`` (the caller may have leaky fds)."""
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def setup_stdio(stdin: int | None, stdout: int | None, stderr: int | None) -> None:
    """dup2 the given fds onto 0/1/2 (None: keep the caller's)."""
    for src, dst in ((stdin, 0), (stdout, 1), (stderr, 2)):
        if src is not None and src != dst:
            os.dup2(src, dst)


def enter_namespaces(plan: InitPlan, sock: socket.socket, s: sc.Syscalls, cid: str,
                     keep: int = 0) -> None:
    """Join namespaces given by path, create a user namespace (parent writes the maps), then
    unshare the rest but ``keep`` (flags). Order: user first, so the others are owned by it."""
    join_given_namespaces(plan, s)
    if any(k == "user" and p is None for k, p in plan.namespaces):
        s.unshare(sc.CLONE_NEWUSER)
        send(sock, Msg.USERNS)
        expect(sock, Msg.MAPPED, "user namespace", cid)
        s.setresgid(0)
        s.setresuid(0)
    s.unshare(plan.new_ns_flags() & ~keep)


def join_given_namespaces(plan: InitPlan, s: sc.Syscalls) -> None:
    """Join the namespaces the plan gives by path."""
    for kind, path in plan.namespaces:
        if path is not None:
            s.setns(path, NS_FLAGS[kind])


def bootstrap(ctx: InitContext, cid: str) -> None:
    """Process A of create: never returns."""
    assert ctx.sock is not None
    code = 1
    try:
        # The init is born in the cgroup's v2 directory: no wait for the kernel's lock there.
        v2_fd = _open_v2_dir(ctx)
        if ctx.join_cgroup is not None:  # before any namespace: a new cgroup namespace is
            try:                         # rooted at the cgroup its creator is in
                ctx.join_cgroup(v2_fd is None)
            except EngineError as e:
                raise StepFailed("cgroup", str(e)) from e
        # so the init makes its cgroup namespace itself, once it is in every hierarchy
        cgroupns = ctx.plan.new_ns_flags() & sc.CLONE_NEWCGROUP if v2_fd is not None else 0
        try:
            enter_namespaces(ctx.plan, ctx.sock, ctx.s, cid, keep=cgroupns)
        except OSError as e:
            raise StepFailed("namespaces", str(e)) from e
        pid = _fork_into_cgroup(ctx, v2_fd)  # PID 1 of the new pid namespace
        if pid == 0:
            if cgroupns:
                try:
                    ctx.s.unshare(cgroupns)
                except OSError as e:
                    report_error(ctx, StepFailed("namespaces", str(e)))
                    os._exit(1)
            container_init(ctx)
        send(ctx.sock, Msg.PID, pid=pid)
        code = 0
    except StepFailed as e:
        report_error(ctx, e)
    except BaseException as e:  # noqa: B036 - report, then leave without unwinding the caller
        report_error(ctx, StepFailed("bootstrap", repr(e)))
    finally:
        os._exit(code)


def can_clone_init(plan: InitPlan) -> bool:
    """Can the runtime's caller clone the init straight into its new namespaces (see
    :func:`clone_init`)? Not with a user namespace (the caller writes its maps while the
    child waits, and the other namespaces must belong to it) nor a pid namespace to join
    (that takes a setns before the fork); those go through the bootstrap process."""
    return not any(kind == "user" or (kind == "pid" and path is not None)
                   for kind, path in plan.namespaces)


def clone_init(ctx: InitContext, stdio: tuple[int | None, ...], keep: set[int]) -> int:
    """Process B of create without a process A: clone3 the init into its new namespaces (and,
    where there is one, its v2 cgroup) from the caller, which must be single-threaded. Returns
    the init's pid; raises OSError when the kernel refuses the clone (the caller then takes
    the bootstrap way, whose errors are the ones reported). Saves a fork of the caller and a
    round trip: a fifth of the runtime's CPU per container start."""
    v2_fd = _open_v2_dir(ctx)
    # the cgroup namespace comes last, once the init is in every hierarchy (its root is then
    # the container's cgroup)
    cgroupns = ctx.plan.new_ns_flags() & sc.CLONE_NEWCGROUP
    try:
        pid = sc.clone3_fork(ctx.plan.new_ns_flags() & ~cgroupns, v2_fd)
    finally:
        if v2_fd is not None:
            os.close(v2_fd)  # (in the child as well)
    if pid:
        return pid
    try:
        setup_stdio(*stdio)
        close_fds_except({0, 1, 2, *keep})
        if ctx.join_cgroup is not None:
            try:
                ctx.join_cgroup(v2_fd is None)
            except EngineError as e:
                raise StepFailed("cgroup", str(e)) from e
        try:
            join_given_namespaces(ctx.plan, ctx.s)
            if cgroupns:
                ctx.s.unshare(cgroupns)
        except OSError as e:
            raise StepFailed("namespaces", str(e)) from e
    except StepFailed as e:
        report_error(ctx, e)
        os._exit(1)
    except BaseException as e:  # noqa: B036 - never unwind into the caller's stack
        report_error(ctx, StepFailed("init", repr(e)))
        os._exit(1)
    container_init(ctx)  # never returns
    os._exit(1)


def container_init(ctx: InitContext) -> None:
    """Process B of create (PID 1 in the container): never returns."""
    code = 1
    try:
        os.setsid()
        run_steps(container_steps(ctx.plan), ctx)
        finish(ctx, wait=True)
    except StepFailed as e:
        code = e.exit_code
        report_error(ctx, e)
    except BaseException as e:  # noqa: B036
        report_error(ctx, StepFailed("init", repr(e)))
    finally:
        os._exit(code)


def exec_bootstrap(ctx: InitContext, init_pid: int) -> None:
    """Process A of exec: join the cgroup and every namespace of the init, fork, exit."""
    code = 1
    try:
        v2_fd = _open_v2_dir(ctx)
        if ctx.join_cgroup is not None:
            ctx.join_cgroup(v2_fd is None)
        # Born in the cgroup from outside its cgroup namespace: inside it, the kernel refuses
        # a cgroup above the namespace's root as the move's source (ENOENT on cgroup v2). The
        # child joins that namespace itself.
        cgroupns = None
        for fd, nstype in open_namespaces(ctx.plan, init_pid):
            if v2_fd is not None and nstype == sc.CLONE_NEWCGROUP:
                cgroupns = fd
                continue
            ctx.s.setns(fd, nstype)
            os.close(fd)
        pid = _fork_into_cgroup(ctx, v2_fd)
        if pid == 0:
            if cgroupns is not None:
                ctx.s.setns(cgroupns, sc.CLONE_NEWCGROUP)
                os.close(cgroupns)
            exec_init(ctx)
        if cgroupns is not None:
            os.close(cgroupns)
        assert ctx.sock is not None
        send(ctx.sock, Msg.PID, pid=pid)
        code = 0
    except BaseException as e:  # noqa: B036
        report_error(ctx, StepFailed("exec setns", str(e)))
    finally:
        os._exit(code)


def _open_v2_dir(ctx: InitContext) -> int | None:
    """The cgroup's v2 directory, opened while the host's mounts are still ours (None: the
    next process is not born there; see :func:`_fork_into_cgroup`)."""
    if ctx.cgroup_v2_dir is None or ctx.plan.new_user_ns():  # a new user namespace's root
        return None                                         # may not write the host's cgroups
    try:
        return os.open(ctx.cgroup_v2_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as e:
        raise StepFailed("cgroup", f"{ctx.cgroup_v2_dir}: {e.strerror}") from e


def _fork_into_cgroup(ctx: InitContext, v2_fd: int | None) -> int:
    """Fork the next process, born in the cgroup's v2 directory ``v2_fd`` (clone3
    CLONE_INTO_CGROUP) when there is one; where the kernel will not (before Linux 5.7: ENOSYS,
    E2BIG, EINVAL; or a permission rule a move passes, as in a delegated subtree without root),
    join it through the descriptor (the host's paths may be gone: exec has entered the
    container's mounts) and fork plainly: a move's own errors are the ones reported."""
    if v2_fd is None:
        return os.fork()
    try:
        try:
            return sc.fork_into_cgroup(v2_fd)
        except OSError:
            pass
        try:
            procs = os.open("cgroup.procs", os.O_WRONLY | os.O_CLOEXEC, dir_fd=v2_fd)
            try:
                os.write(procs, b"0")
            finally:
                os.close(procs)
        except OSError as e:
            raise StepFailed("cgroup", f"joining {ctx.cgroup_v2_dir}: {e.strerror}") from e
        return os.fork()
    finally:
        os.close(v2_fd)  # (in the child as well)


def open_namespaces(plan: InitPlan, init_pid: int) -> list[tuple[int, int]]:
    """Open the init's namespaces that differ from ours, all before joining any (after the
    mount namespace switch, the host's /proc is gone)."""
    out = []
    for kind, _ in plan.namespaces:
        name = NS_PROC_NAMES[kind]
        theirs = f"/proc/{init_pid}/ns/{name}"
        if os.readlink(theirs) != os.readlink(f"/proc/self/ns/{name}"):
            out.append((os.open(theirs, os.O_RDONLY | os.O_CLOEXEC), NS_FLAGS[kind]))
    return out


def exec_init(ctx: InitContext) -> None:
    """Process B of exec: process steps then execve; never returns."""
    code = 1
    try:
        os.setsid()
        if ctx.process.terminal and ctx.console is not None:
            setup_exec_console(ctx)
        elif ctx.process.terminal and os.isatty(0):
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        run_steps(process_steps(ctx.plan, ctx.process), ctx)
        finish(ctx, wait=False)
    except StepFailed as e:
        code = e.exit_code
        report_error(ctx, e)
    except BaseException as e:  # noqa: B036
        report_error(ctx, StepFailed("exec", repr(e)))
    finally:
        os._exit(code)
