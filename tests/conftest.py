"""Shared test fixtures: capability probes and a private engine state root."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # the pytest plugin's tests run user suites

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"

# Each test's private state root gets its own warm engine (compose/cli/warmserver.py); it serves
# the test's later commands and goes 3 s after the last one instead of minutes later, so
# hundreds of state roots do not leave hundreds of idle engines behind during the run.
os.environ.setdefault("PYCOMPOSE_ENGINE_IDLE", "3")


def _can_unshare_netns() -> tuple[bool, str]:
    """Probe (don't just check the uid): can we create a network namespace?"""
    if os.geteuid() != 0:
        return False, "needs root"
    pid = os.fork()
    if pid == 0:  # child: try and report through the exit code
        try:
            os.unshare(os.CLONE_NEWNET | os.CLONE_NEWNS)  # type: ignore[attr-defined]
            os._exit(0)
        except AttributeError:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            os._exit(0 if libc.unshare(0x40000000 | 0x00020000) == 0 else 1)
        except OSError:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    ok = os.waitstatus_to_exitcode(status) == 0
    return ok, "" if ok else "cannot create namespaces here"


_ROOT_OK, _ROOT_WHY = _can_unshare_netns()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _ROOT_OK:
        return
    skip = pytest.mark.skip(reason=f"root capabilities missing: {_ROOT_WHY}")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def state_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private engine state root for one test."""
    root = tmp_path / "state"
    root.mkdir()
    monkeypatch.setenv("PYCOMPOSE_ROOT", str(root))
    return root


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared busybox root filesystem directory. Treat it as read-only (use it as an
    OverlayFS lower dir or copy it)."""
    from tests.support.rootfs import busybox_available, make_busybox_rootfs

    if not busybox_available():
        pytest.skip("static busybox missing (apt-get install busybox-static)")
    return make_busybox_rootfs(tmp_path_factory.mktemp("busybox") / "rootfs")
