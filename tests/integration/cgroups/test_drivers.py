"""cgroup drivers on the real kernel: v1 here, v2 on the controller-less unified hierarchy."""
from __future__ import annotations

import errno
import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import cgroups
from engine.cgroups import V1Driver, V2Driver, fs

pytestmark = pytest.mark.root

UNIFIED = Path("/sys/fs/cgroup/unified")


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def cg_path() -> Iterator[str]:
    path = f"pycompose/test-{secrets.token_hex(5)}"
    yield path
    for drv in (cgroups.driver(), *([V2Driver(UNIFIED)] if UNIFIED.is_dir() else [])):
        if drv.exists(path):
            drv.kill_all(path, signal.SIGKILL)
            time.sleep(0.05)
            drv.delete(path)
        drv.prune("pycompose")
    assert path not in cgroups.list_paths()


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "60"])
    yield proc
    proc.kill()
    proc.wait()


def test_v1_driver_real(cg_path: str, sleeper: subprocess.Popen[bytes]) -> None:
    drv = cgroups.driver()
    if not isinstance(drv, V1Driver):
        pytest.skip("host is not cgroup v1")
    drv.create(cg_path, {"memory": {"limit": 64 << 20, "reservation": 32 << 20},
                         "cpu": {"quota": 20000, "period": 100000, "shares": 512,
                                 "cpus": "0"},
                         "pids": {"limit": 50}})
    root = drv.root
    assert (root / "memory" / cg_path / "memory.limit_in_bytes").read_text().strip() == \
        str(64 << 20)
    assert (root / "cpu" / cg_path / "cpu.cfs_quota_us").read_text().strip() == "20000"
    assert (root / "cpu" / cg_path / "cpu.shares").read_text().strip() == "512"
    assert (root / "cpuset" / cg_path / "cpuset.cpus").read_text().strip() == "0"
    drv.add_process(cg_path, sleeper.pid)
    assert drv.pids(cg_path) == [sleeper.pid]
    assert f"pids:/{cg_path}" in Path(f"/proc/{sleeper.pid}/cgroup").read_text()
    st = drv.stats(cg_path)
    assert st.memory_limit == 64 << 20 and st.pids_limit == 50 and st.pids_current == 1
    assert not drv.oom_killed(cg_path)
    drv.freeze(cg_path)
    assert drv.is_frozen(cg_path)
    drv.thaw(cg_path)
    assert not drv.is_frozen(cg_path)
    assert cg_path in cgroups.list_paths()
    drv.kill_all(cg_path, signal.SIGTERM)  # v1 path: freeze, signal each task, thaw
    assert sleeper.wait(timeout=5) == -signal.SIGTERM
    drv.delete(cg_path)
    assert not drv.exists(cg_path)


def test_v2_driver_on_unified_hierarchy(cg_path: str, sleeper: subprocess.Popen[bytes]) -> None:
    if not (UNIFIED / "cgroup.procs").exists():
        pytest.skip("no unified hierarchy mounted")
    drv = V2Driver(UNIFIED)
    drv.create(cg_path, {})  # no controllers here: only tracking, freezing and killing
    drv.add_process(cg_path, sleeper.pid)
    assert drv.pids(cg_path) == [sleeper.pid]
    drv.freeze(cg_path)
    assert drv.is_frozen(cg_path)
    time.sleep(0.05)
    assert _state(sleeper.pid) in ("S", "D")
    drv.thaw(cg_path)
    assert not drv.is_frozen(cg_path)
    drv.kill_all(cg_path, signal.SIGKILL)  # cgroup.kill
    assert sleeper.wait(timeout=5) == -signal.SIGKILL
    drv.delete(cg_path)
    assert not drv.exists(cg_path)


def test_join_self_moves_a_forked_child_into_every_hierarchy(cg_path: str) -> None:
    """The runtime's bootstrap process joins its container's cgroup itself (v1: by writing
    itself to each hierarchy's ``tasks``). Every hierarchy the driver uses must then list it,
    and so must its children."""
    drv = cgroups.driver()
    drv.create(cg_path, {})
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        code = 1
        try:
            os.close(r)
            drv.join_self(cg_path)
            grandchild = subprocess.Popen(["sleep", "60"])
            os.write(w, str(grandchild.pid).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        grandchild = int(f.read() or 0)
    assert os.waitpid(pid, 0)[1] == 0 and grandchild
    lines = Path(f"/proc/{grandchild}/cgroup").read_text().splitlines()
    wanted = {*drv.hierarchies} if isinstance(drv, V1Driver) else set()
    got = {}
    for line in lines:
        _, names, path = line.split(":", 2)
        for name in names.split(",") or [""]:
            got[name.removeprefix("name=")] = path
    for name in wanted:
        assert got.get(name) == f"/{cg_path}", (name, lines)
    if not isinstance(drv, V1Driver) or drv.unified:
        assert got.get("") == f"/{cg_path}", lines  # the v2 (or hybrid unified) hierarchy
    assert drv.pids(cg_path) == [grandchild]
    drv.kill_all(cg_path, signal.SIGKILL)


@pytest.mark.parametrize("kernel", ["clone3", "before 5.7", "refused"])
def test_the_runtime_forks_a_child_born_in_the_v2_cgroup(
        cg_path: str, kernel: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The runtime's bootstrap joins the v1 hierarchies and forks the init (or an exec'd
    process) straight into the v2 (hybrid: unified) directory with clone3 CLONE_INTO_CGROUP,
    so no move into it waits for the kernel's lock; a kernel without it (ENOSYS) gets a move
    through the directory's descriptor, then a plain fork. Either way the child ends up in
    every hierarchy. So does a clone3 the kernel refuses for a rule a move passes (EACCES:
    a delegated subtree without root)."""
    from types import SimpleNamespace

    from engine.runtime import init as init_mod
    from engine.runtime import syscalls as sc

    drv = cgroups.driver()
    v2_dir = drv.v2_dir(cg_path)
    if v2_dir is None:
        pytest.skip("no v2 hierarchy here")
    drv.create(cg_path, {})
    if kernel != "clone3":
        def old_kernel(fd: int) -> int:
            raise OSError(errno.ENOSYS if kernel == "before 5.7" else errno.EACCES, "clone3")
        monkeypatch.setattr(sc, "fork_into_cgroup", old_kernel)
    ctx: Any = SimpleNamespace(  # what the bootstrap's cgroup steps read of its context
        plan=SimpleNamespace(new_user_ns=lambda: False), cgroup_v2_dir=str(v2_dir),
        join_cgroup=lambda v2: drv.join_self(cg_path, v2=v2))
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - process A of the runtime; reports through the pipe
        code = 1
        try:
            os.close(r)
            v2_fd = init_mod._open_v2_dir(ctx)
            assert ctx.join_cgroup is not None
            ctx.join_cgroup(v2_fd is None)
            child = init_mod._fork_into_cgroup(ctx, v2_fd)
            if child == 0:  # process B
                os.write(w, Path("/proc/self/cgroup").read_bytes())
                os._exit(0)
            os.waitpid(child, 0)
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        lines = f.read().decode().splitlines()
    assert os.waitpid(pid, 0)[1] == 0
    paths = {line.split(":", 2)[1]: line.split(":", 2)[2] for line in lines}
    assert paths.get("") == f"/{cg_path}", lines  # v2 / unified
    if isinstance(drv, V1Driver):
        assert paths.get("pids") == f"/{cg_path}" and paths.get("memory") == f"/{cg_path}"


def _drivers() -> list[tuple[Any, list[Path]]]:
    """This host's driver and, when mounted, a v2 driver on the unified hierarchy, each with
    the hierarchy roots it writes to."""
    drv = cgroups.driver()
    found: list[tuple[Any, list[Path]]] = [
        (drv, list(drv.hierarchies.values()) + ([drv.unified] if drv.unified else []))
        if isinstance(drv, V1Driver) else (drv, [drv.root])]
    if (UNIFIED / "cgroup.procs").exists():
        found.append((V2Driver(UNIFIED), [UNIFIED]))
    return found


@pytest.mark.parametrize("which", [0, 1])
def test_a_parent_goes_with_its_last_cgroup_but_never_under_a_creation(which: int) -> None:
    """``prune``: the parent of the containers' cgroups is removed once nothing is in it,
    and not while another cgroup is being created (which holds the hierarchy's lock)."""
    drivers = _drivers()
    if which >= len(drivers):
        pytest.skip("no unified hierarchy mounted")
    drv, roots = drivers[which]
    parent = f"pycompose-test-{secrets.token_hex(4)}"
    a, b = f"{parent}/a", f"{parent}/b"
    try:
        drv.create(a, {})
        drv.create(b, {})
        drv.delete(a)
        drv.prune(parent)
        assert all((r / parent).is_dir() for r in roots)  # b is still in it
        drv.delete(b)
        lock_root = drv.root
        with fs.tree_lock(lock_root) as held:  # a creation under way (another process's)
            assert held
            drv.prune(parent)
        assert all((r / parent).is_dir() for r in roots)
        drv.prune(parent)
        assert not any((r / parent).exists() for r in roots)
        drv.prune(parent)  # already gone: nothing to do
    finally:
        for path in (a, b, parent):
            for r in roots:
                if (r / path).is_dir():
                    os.rmdir(r / path)
