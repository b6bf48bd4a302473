"""The directories holding one subdirectory per container, runtime state, project or volume are
marked as tops of directory hierarchies (ext4's ``chattr +T``; see engine.paths)."""
from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

import pytest

from engine import paths as engine_paths
from engine.containers import paths, runtimes
from engine.paths import ensure_spread_dir
from tests.integration.containers.conftest import Engine

pytestmark = pytest.mark.root

TOPDIR = 0x00020000
EXT4_MAGIC = 0xEF53


def flags(path: Path) -> int:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return int(struct.unpack("=i", fcntl.ioctl(fd, 0x80086601, bytes(4)))[0])
    finally:
        os.close(fd)


def on_ext4(path: Path) -> bool:
    import ctypes

    buf = ctypes.create_string_buffer(256)
    libc = ctypes.CDLL(None, use_errno=True)
    assert libc.statfs(str(path).encode(), buf) == 0
    return struct.unpack_from("=q", buf.raw)[0] == EXT4_MAGIC


@pytest.fixture
def ext4_dir(tmp_path: Path) -> Path:
    if not on_ext4(tmp_path):
        pytest.skip(f"{tmp_path} is not on ext4 (the flag is ext4's)")
    return tmp_path


def test_marks_a_new_and_an_existing_directory_and_keeps_other_flags(ext4_dir: Path) -> None:
    fresh = ensure_spread_dir(ext4_dir / "a" / "containers", 0o700)
    assert fresh.is_dir() and fresh.stat().st_mode & 0o777 == 0o700
    assert flags(fresh) & TOPDIR
    old = ext4_dir / "old"
    old.mkdir()
    before = flags(old)
    assert not before & TOPDIR
    ensure_spread_dir(old)
    assert flags(old) == before | TOPDIR


def test_elsewhere_only_the_directory_is_made(tmp_path: Path) -> None:
    shm = Path("/dev/shm")
    if on_ext4(shm):
        pytest.skip("/dev/shm is ext4 here")
    target = shm / f"pc-spread-{os.getpid()}" / "containers"
    try:
        assert ensure_spread_dir(target).is_dir()  # tmpfs refuses the ioctl: not an error
    finally:
        target.rmdir()
        target.parent.rmdir()


def test_container_and_runtime_directories_are_spread(engine: Engine, state_root: Path) -> None:
    if not on_ext4(state_root):
        pytest.skip(f"{state_root} is not on ext4")
    engine_paths._spread.clear()  # another test's root may have had the same path
    engine.run(engine.spec("spread", "sleep 30"))
    assert flags(paths.containers_root()) & TOPDIR
    root = (state_root / "runtime" if engine.runtime == "builtin"
            else runtimes.oci_root(engine.runtime))
    assert flags(root) & TOPDIR
