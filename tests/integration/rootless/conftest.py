"""Fixtures for the rootless suite: the real test user, a reachable checkout, a private project.

Runs as root (``.ci/run``), which only creates the user and the directories; every pycompose
command runs as that user.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.rootless import user as u

EXAMPLES = REPO / "examples"


@pytest.fixture(scope="session")
def rootless_user() -> Iterator[u.TestUser]:
    """The test user, able to run this checkout's interpreter and import pycompose."""
    why = u.missing_capability()
    if why:
        pytest.skip(f"rootless: {why}")
    pw = u.ensure_account()
    python = REPO / ".venv" / "bin" / "python"
    if u.can_import(python, None, pw):
        yield u.TestUser(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), python, None)
        return
    # A checkout the user cannot reach (e.g. under /root on a fresh CI machine): bind it at a
    # world-traversable path for the session, and point the interpreter at that copy.
    bound = Path(tempfile.mkdtemp(prefix="pycompose-rootless-src-"))
    bound.chmod(0o755)
    subprocess.run(["mount", "--bind", "-o", "ro", str(REPO), str(bound)], check=True,
                   timeout=30)
    try:
        python = bound / ".venv" / "bin" / "python"
        assert u.can_import(python, str(bound), pw), (
            f"the test user cannot read the checkout even at {bound}: make its files "
            "world-readable (umask 022)")
        yield u.TestUser(pw.pw_name, pw.pw_uid, pw.pw_gid, Path(pw.pw_dir), python, str(bound))
    finally:
        subprocess.run(["umount", "-l", str(bound)], check=False, timeout=30)
        bound.rmdir()


@dataclass(frozen=True, slots=True)
class Project:
    """A hello project owned by the test user, with its own state root."""

    user: u.TestUser
    base: Path
    state: Path

    @property
    def hello(self) -> Path:
        return self.base / "examples" / "stacks" / "hello"

    def env(self) -> dict[str, str]:
        return u.user_env(self.user, self.state)

    def compose(self, *args: str, cwd: Path | None = None, timeout: float = 180,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """``pycompose ARGS`` as the test user in the hello project."""
        return u.run_as(self.user, [str(self.user.python), "-m", "compose.cli.main", *args],
                        env={**self.env(), **(env or {})}, cwd=cwd or self.hello,
                        timeout=timeout)

    def ok(self, *args: str, timeout: float = 180) -> str:
        """Like compose(), asserting success; its stdout."""
        done = self.compose(*args, timeout=timeout)
        assert done.returncode == 0, f"pycompose {' '.join(args)}:\n{done.stdout}{done.stderr}"
        return done.stdout

    def ns_dir(self) -> Path:
        """The runtime directory of this state root's namespaces (as the user computes it)."""
        done = u.run_as(self.user, [str(self.user.python), "-c",
                                    "from engine.paths import state_root;"
                                    "from engine.rootless.detect import namespace_dir;"
                                    "print(namespace_dir(state_root()))"],
                        env=self.env(), cwd=Path("/"), timeout=60)
        assert done.returncode == 0, done.stderr
        return Path(done.stdout.strip())


@pytest.fixture(scope="module")
def project(rootless_user: u.TestUser) -> Iterator[Project]:
    """The hello example and the busybox image context, copied to a directory the user owns."""
    base = Path(tempfile.mkdtemp(prefix="pycompose-rootless-"))
    shutil.copytree(EXAMPLES / "stacks" / "hello", base / "examples" / "stacks" / "hello")
    shutil.copytree(EXAMPLES / "images" / "busybox", base / "examples" / "images" / "busybox")
    busybox = shutil.which("busybox") or "/bin/busybox"
    shutil.copy2(busybox, base / "examples" / "images" / "busybox" / "busybox")
    state = base / "state"
    state.mkdir()
    for path in [base, *base.rglob("*")]:
        os.chown(path, rootless_user.uid, rootless_user.gid, follow_symlinks=False)
    proj = Project(rootless_user, base, state)
    ns_dir = proj.ns_dir()
    try:
        yield proj
    finally:
        userns = _userns_of(ns_dir)  # before down stops the pause process
        for name in ("compose.yaml", "probe.yaml"):
            if (proj.hello / name).exists():
                proj.compose("-f", name, "down", "-v", "-t", "1", "--remove-orphans",
                             timeout=120)
        _kill_leftovers(ns_dir, userns)
        shutil.rmtree(ns_dir, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def _userns_of(ns_dir: Path) -> str | None:
    try:
        pid = int((ns_dir / "pause.pid").read_text().split()[0])
        return os.readlink(f"/proc/{pid}/ns/user")
    except (OSError, ValueError, IndexError):
        return None


def _kill_leftovers(ns_dir: Path, userns: str | None) -> None:
    """After a failed test: the processes this state root's daemon recorded, and every process
    in its user namespace (all of them started by this test)."""
    victims = set()
    for name in ("pasta.pid", "pause.pid", "daemon.pid"):
        try:
            victims.add(int((ns_dir / name).read_text().split()[0]))
        except (OSError, ValueError, IndexError):
            continue
    if userns:
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and os.readlink(entry / "ns" / "user") == userns:
                    victims.add(int(entry.name))
            except OSError:
                continue
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
