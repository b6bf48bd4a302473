"""Process steps of the container init (shared by create and exec): hostname, sysctls, rlimits,
user, capabilities, no_new_privs, seccomp, and resolving the executable like docker (126/127).
"""
from __future__ import annotations

import os

from engine.runtime import capabilities
from engine.runtime import syscalls as sc
from engine.runtime.spec import InitPlan, ProcessPlan

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_UMASK = 0o022
EXIT_NOT_FOUND = 127
EXIT_CANNOT_EXECUTE = 126


class ExecLookupError(Exception):
    """The user command cannot be executed; carries docker's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def set_hostname(plan: InitPlan, s: sc.Syscalls) -> None:
    """hostname and domainname (only in a new UTS namespace)."""
    if plan.hostname is not None:
        s.sethostname(plan.hostname)
    if plan.domainname is not None:
        s.setdomainname(plan.domainname)


def apply_sysctls(plan: InitPlan, s: sc.Syscalls) -> None:
    """Write namespaced sysctls to /proc/sys (``net.ipv4.ip_forward`` -> net/ipv4/ip_forward)."""
    for key, value in plan.sysctl.items():
        s.write_file("/proc/sys/" + key.replace(".", "/"), str(value))


def apply_rlimits(proc: ProcessPlan, s: sc.Syscalls) -> None:
    """setrlimit for each (already clamped) process rlimit."""
    for res, soft, hard in proc.rlimits:
        s.setrlimit(res, soft, hard)


def apply_oom_score_adj(proc: ProcessPlan, s: sc.Syscalls) -> list[str]:
    """Write oom_score_adj; lowering it needs CAP_SYS_RESOURCE, so failure is a warning."""
    if proc.oom_score_adj is None:
        return []
    try:
        s.write_file("/proc/self/oom_score_adj", str(proc.oom_score_adj))
    except PermissionError:
        return [f"cannot set oom_score_adj {proc.oom_score_adj}: CAP_SYS_RESOURCE missing"]
    return []


def set_user(proc: ProcessPlan, s: sc.Syscalls) -> None:
    """Switch to process.user, keeping capabilities across the uid change for the caps step."""
    s.umask(proc.umask if proc.umask is not None else DEFAULT_UMASK)
    s.prctl(sc.PR_SET_KEEPCAPS, 1)
    s.setgroups(list(proc.additional_gids))
    s.setresgid(proc.gid)
    s.setresuid(proc.uid)
    s.prctl(sc.PR_SET_KEEPCAPS, 0)


def change_dir(proc: ProcessPlan, s: sc.Syscalls) -> None:
    """chdir to process.cwd (after set_user, so permissions are those of the user)."""
    s.chdir(proc.cwd)


def apply_capabilities(proc: ProcessPlan, s: sc.Syscalls) -> None:
    """Drop the bounding set, then set effective/permitted/inheritable, then raise ambient."""
    caps = proc.capabilities
    if caps is None:
        return
    held = s.capget_permitted()
    # After setresuid the effective set is empty; regain CAP_SETPCAP to drop the bounding set.
    s.capset(held, held, 0)
    for n in range(capabilities.last_cap() + 1):
        if not caps.bounding & (1 << n):
            s.prctl(sc.PR_CAPBSET_DROP, n)
    # Capabilities the runtime itself lacks (e.g. CAP_SYS_RESOURCE here) cannot be granted.
    s.capset(caps.effective & held, caps.permitted & held, caps.inheritable & held)
    for n in range(capabilities.last_cap() + 1):
        if caps.ambient & (1 << n):
            s.prctl(sc.PR_CAP_AMBIENT, sc.PR_CAP_AMBIENT_RAISE, n)


def set_no_new_privs(proc: ProcessPlan, s: sc.Syscalls) -> None:
    """process.noNewPrivileges."""
    if proc.no_new_privileges:
        s.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)


def find_executable(proc: ProcessPlan) -> str:
    """Resolve args[0] through PATH like execvp; raise ExecLookupError with 127 or 126."""
    cmd = proc.args[0]
    if "/" in cmd:
        candidates = [cmd if cmd.startswith("/") else os.path.join(proc.cwd, cmd)]
    else:
        path = proc.env.get("PATH", DEFAULT_PATH)
        candidates = [os.path.join(d or ".", cmd) for d in path.split(":")]
    denied = None
    for cand in candidates:
        if not os.path.exists(cand):
            continue
        if os.path.isdir(cand) or not os.access(cand, os.X_OK):
            denied = denied or cand
            continue
        return cand
    if denied:
        raise ExecLookupError(f'exec: "{cmd}": permission denied', EXIT_CANNOT_EXECUTE)
    where = "" if "/" in cmd else " in $PATH"
    raise ExecLookupError(f'exec: "{cmd}": executable file not found{where}', EXIT_NOT_FOUND)
