"""Without root, the engine names what is missing in one sentence (no traceback)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.root

_SCRIPT = """
import sys
from pathlib import Path
import engine.containers as c
from engine.errors import EngineError
try:
    info = c.create(c.ContainerSpec(name="x", argv=("true",), layers=(Path(sys.argv[1]),)))
    c.start(info.id)
except EngineError as exc:
    print(type(exc).__name__, exc)
"""


def _as_nobody(state: Path, rootfs: Path) -> subprocess.CompletedProcess[str]:
    def drop() -> None:
        os.setgid(65534)
        os.setuid(65534)

    env = {**os.environ, "PYCOMPOSE_ROOT": str(state), "PYCOMPOSE_RUNTIME": "runc",
           "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    return subprocess.run([sys.executable, "-c", _SCRIPT, str(rootfs)], capture_output=True,
                          text=True, env=env, preexec_fn=drop, timeout=60, cwd="/")


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory nobody can write (pytest's own tmp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="pycompose-nobody-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


def test_unprivileged_user_gets_one_sentence(open_dir: Path) -> None:
    rootfs = open_dir / "rootfs"  # never read: the mount is refused first
    rootfs.mkdir()
    proc = _as_nobody(open_dir / "state", rootfs)
    if "Permission denied" in proc.stderr and "python" in proc.stderr.lower():
        pytest.skip("the interpreter is not readable by nobody here")
    assert proc.stderr == "", proc.stderr
    assert proc.stdout.startswith("MissingPrivilege"), proc.stdout
    assert "CAP_SYS_ADMIN" in proc.stdout and len(proc.stdout.strip().splitlines()) == 1
    (open_dir / "closed").mkdir(mode=0o700)
    proc = _as_nobody(open_dir / "closed" / "state", rootfs)
    assert proc.stdout.startswith("MissingPrivilege") and "need root" in proc.stdout, proc
