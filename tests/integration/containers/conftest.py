"""Fixtures for container integration tests: one engine per runtime (runc and crun when
installed, the built-in one when it works), a private state root, and a leak check after every
test."""
from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import engine.containers as containers
from engine.containers import paths, procinfo, record, runtimes
from engine.containers.spec import ContainerInfo, ContainerSpec
from engine.errors import NotFound

_BUILTIN_STATUS: dict[str, str] = {}


def _builtin_problem(rootfs: Path, tmp: Path) -> str:
    """Why the built-in runtime cannot run a trivial container here ('' when it can)."""
    if "result" in _BUILTIN_STATUS:
        return _BUILTIN_STATUS["result"]
    if not runtimes.builtin_available():
        why = "engine.runtime.BuiltinRuntime does not exist yet"
    else:
        why = _probe_builtin(rootfs, tmp)
    _BUILTIN_STATUS["result"] = why
    return why


def _probe_builtin(rootfs: Path, tmp: Path) -> str:
    old = {k: os.environ.get(k) for k in ("PYCOMPOSE_ROOT", "PYCOMPOSE_RUNTIME")}
    os.environ.update(PYCOMPOSE_ROOT=str(tmp), PYCOMPOSE_RUNTIME="builtin")
    try:
        info = containers.create(ContainerSpec(name="probe", argv=("true",), layers=(rootfs,)))
        try:
            containers.start(info.id)
            status = containers.wait(info.id, timeout=10)
            return "" if status.code == 0 else f"probe container exited {status.code}"
        finally:
            containers.delete(info.id, force=True)
    except Exception as exc:  # noqa: BLE001 - any failure means "skip builtin", with the reason
        return f"the built-in runtime failed a probe: {exc}"
    finally:
        from engine.containers import shimd

        shimd.stop_server(tmp)
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


class Engine:
    """Creates containers for one test and removes them afterwards."""

    def __init__(self, runtime: str, rootfs: Path, root: Path) -> None:
        self.runtime = runtime
        self.rootfs = rootfs
        self.root = root
        self.ids: list[str] = []
        self.shims: list[tuple[int, int]] = []

    def spec(self, name: str, script: str, **kw: object) -> ContainerSpec:
        """A busybox container running ``sh -c script`` (busybox rootfs as overlay lower)."""
        return ContainerSpec(name=name, argv=("sh", "-c", script), layers=(self.rootfs,),
                             stop_grace_period=kw.pop("stop_grace_period", 1.0),  # type: ignore
                             **kw)  # type: ignore[arg-type]

    def create(self, spec: ContainerSpec) -> ContainerInfo:
        info = containers.create(spec)
        self.ids.append(info.id)
        return info

    def run(self, spec: ContainerSpec) -> ContainerInfo:
        """Create and start; remember the shim so the leak check can look for it."""
        info = self.create(spec)
        containers.start(info.id)
        row = record.raw(info.id)
        self.shims.append((row["shim_pid"], row["shim_start"]))
        info = containers.inspect(info.id)
        assert info.runtime == self.runtime
        return info

    def output(self, cid: str) -> str:
        return "".join(line.text + "\n" for line in containers.logs(cid))


@pytest.fixture(params=["runc", "builtin", "crun"])
def engine(request: pytest.FixtureRequest, state_root: Path, busybox_rootfs: Path,
           tmp_path_factory: pytest.TempPathFactory,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The containers engine on runtime ``runc`` or ``builtin``, with a leak check."""
    name = request.param
    if name != "builtin" and shutil.which(name) is None:
        pytest.skip(f"{name} is not installed (apt-get install {name})")
    if name == "builtin":
        why = _builtin_problem(busybox_rootfs, tmp_path_factory.mktemp("probe"))
        if why:
            pytest.skip(why)
    monkeypatch.setenv("PYCOMPOSE_RUNTIME", name)
    eng = Engine(name, busybox_rootfs, state_root)
    yield eng
    _remove_all(eng)
    from engine.containers import shimd

    shimd.stop_server(state_root)  # threaded starts leave the idle fork server behind
    assert not shimd.server_running(state_root)
    assert_nothing_left(eng, state_root)


def _remove_all(eng: Engine) -> None:
    for cid in eng.ids:
        try:
            containers.delete(cid, force=True)
        except NotFound:
            pass


def assert_nothing_left(eng: Engine, root: Path) -> None:
    """No mount under the state root, no cgroup, no process, no container dir remains."""
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4] for line in f if str(root) in line.split()[4]]
    assert mounts == [], f"mounts left: {mounts}"
    from engine.cgroups import list_paths

    left = [p for p in list_paths("pycompose") if any(cid in p for cid in eng.ids)]
    assert left == [], f"cgroups left: {left}"
    for pid, start in eng.shims:
        if procinfo.alive(pid, start):
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"shim {pid} still running after delete")
    assert [c for c in eng.ids if paths.container_dir(c).exists()] == []


@pytest.fixture
def wait_for() -> Callable[[Callable[[], bool], float], None]:
    """Wait for a condition the kernel offers no event for (log file content)."""
    import time

    def waiter(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            assert time.monotonic() < deadline, "condition not reached in time"
            time.sleep(0.02)

    return waiter
