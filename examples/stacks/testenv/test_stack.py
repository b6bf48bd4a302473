"""Integration tests against a throwaway pycompose stack — the way you would use pycompose in
your own test suite.

A session fixture builds the images and brings the stack in this directory up with
``pycompose up -d --wait`` (so every healthcheck passed before the first test runs); tests talk
to the API through its published port on 127.0.0.1 and run commands inside the services with
``pycompose exec``; the finalizer takes everything down again with ``pycompose down -v``.

Run (as root, after ``examples/images/prepare.sh``)::

    pytest examples/stacks/testenv/test_stack.py

``PYCOMPOSE`` names the pycompose command (default: ``pycompose`` on PATH).
"""
from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Env:
    """The running stack: how to call pycompose on it and where its API is published."""

    command: list[str]
    base_url: str

    def compose(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.command, *args], cwd=HERE, capture_output=True,
                              text=True, timeout=timeout, check=False)

    def get(self, path: str) -> dict[str, object]:
        with urllib.request.urlopen(self.base_url + path, timeout=5) as resp:
            data: dict[str, object] = json.load(resp)
            return data


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pycompose() -> list[str]:
    cmd = shlex.split(os.environ.get("PYCOMPOSE", "pycompose"))
    if shutil.which(cmd[0]) is None:
        pytest.skip(f"{cmd[0]} not found (set PYCOMPOSE)")
    return cmd


@pytest.fixture(scope="session")
def stack() -> Iterator[Env]:
    port = _free_port()
    os.environ["TESTENV_PORT"] = str(port)  # interpolated into compose.yaml's ports
    env = Env([*_pycompose(), "-p", f"testenv{os.getpid()}"], f"http://127.0.0.1:{port}")
    started = False
    try:
        for step in (["build"], ["up", "-d", "--wait"]):
            proc = env.compose(*step)
            assert proc.returncode == 0, f"pycompose {' '.join(step)}:\n{proc.stderr}"
        started = True
        yield env
    finally:
        if not started:  # show why the stack did not come up
            print(env.compose("logs").stdout)
        down = env.compose("down", "-v", "-t", "5")
        assert down.returncode == 0, down.stderr


def test_api_counts_hits_through_the_published_port(stack: Env) -> None:
    first = stack.get("/hits")["hits"]
    assert isinstance(first, int)
    assert stack.get("/hits")["hits"] == first + 1


def test_api_reaches_redis(stack: Env) -> None:
    assert stack.get("/ping") == {"redis": True}


def test_redis_holds_what_the_api_counted(stack: Env) -> None:
    hits = stack.get("/hits")["hits"]
    proc = stack.compose("exec", "-T", "redis", "redis-cli", "get", "hits")
    assert proc.returncode == 0, proc.stderr
    assert int(proc.stdout) == hits


def test_services_resolve_each_other_by_name(stack: Env) -> None:
    lookup = "import socket, sys; print(socket.gethostbyname(sys.argv[1]))"
    for src, dst in (("api", "redis"), ("redis", "api")):
        proc = stack.compose("exec", "-T", src, "python3", "-c", lookup, dst)
        assert proc.returncode == 0, proc.stderr
        socket.inet_aton(proc.stdout.strip())  # a plain IPv4 address


def test_unknown_names_do_not_resolve(stack: Env) -> None:
    proc = stack.compose("exec", "-T", "api", "getent", "hosts", "no-such-service")
    assert proc.returncode == 2  # getent: key not found
