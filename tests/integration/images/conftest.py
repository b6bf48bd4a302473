"""Fixtures: a real registry (Debian's docker-registry) on loopback, and a busybox image."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REGISTRY_BIN = shutil.which("docker-registry")
SKOPEO = shutil.which("skopeo")


@dataclass(frozen=True)
class Registry:
    host: str          # "127.0.0.1:PORT"
    data: Path         # the registry's storage root
    pid: int


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(host: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("docker-registry exited early")
        try:
            with urllib.request.urlopen(f"http://{host}/v2/", timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("docker-registry did not come up")


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A private docker-registry on 127.0.0.1:<free port>, stopped by PID afterwards."""
    if not REGISTRY_BIN or not SKOPEO:
        pytest.skip("docker-registry and skopeo are needed (apt-get install docker-registry "
                    "skopeo)")
    data = tmp_path / "registry-data"
    host = f"127.0.0.1:{_free_port()}"
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                      f"    rootdirectory: {data}\n  delete:\n    enabled: true\n"
                      f"http:\n  addr: {host}\n")
    log = open(tmp_path / "registry.log", "wb")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=log, stderr=log)
    try:
        _wait_ready(host, proc)
        yield Registry(host, data, proc.pid)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        log.close()
        assert proc.returncode is not None
        assert not Path(f"/proc/{proc.pid}").exists() or \
            Path(f"/proc/{proc.pid}/stat").read_text().split()[2] == "Z"


def skopeo(*args: str) -> str:
    """Run skopeo (TLS verification off: the test registry speaks plain http)."""
    assert SKOPEO
    res = subprocess.run([SKOPEO, *args], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, f"skopeo {' '.join(args)}: {res.stderr}"
    return res.stdout


@pytest.fixture
def rootfs_tar(busybox_rootfs: Path, tmp_path: Path) -> Path:
    """The busybox root filesystem as a tarball."""
    path = tmp_path / "rootfs.tar"
    with tarfile.open(path, "w") as tf:
        tf.add(busybox_rootfs, arcname=".")
    return path
