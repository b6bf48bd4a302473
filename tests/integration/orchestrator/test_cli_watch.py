"""``pycompose watch``: real file changes synced into running containers (inotify), restarts,
exec hooks, ignore rules and rebuilds, through the CLI as root."""
from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack


@contextmanager
def watching(stack: Stack, *args: str) -> Iterator[subprocess.Popen[str]]:
    """``pycompose watch`` in the background, until "Watch enabled"; Ctrl-C at the end."""
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name,
                             "watch", *args], cwd=stack.dir, env=stack.env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "Watch enabled" in line:
            break
    else:
        raise AssertionError(f"watch did not start: {proc.stderr.read() if proc.stderr else ''}")
    try:
        yield proc
    finally:
        proc.send_signal(2)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0


def until(check: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


def cat(stack: Stack, path: str) -> str:
    out = stack.run("exec", "-T", "app", "cat", path, check=False)
    return out.stdout if out.returncode == 0 else ""


@pytest.mark.root
def test_watch_sync_and_ignore(stack: Stack) -> None:
    src = stack.dir / "src"
    src.mkdir()
    (src / "keep.txt").write_text("v0\n")
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    develop:
      watch:
        - path: ./src
          action: sync
          target: /app
          initial_sync: true
          ignore:
            - "*.log"
            - tmp/
""")
    with watching(stack):
        assert cat(stack, "/app/keep.txt") == "v0\n"  # initial_sync
        (src / "keep.txt").write_text("v1\n")
        (src / "new").mkdir()
        (src / "new" / "deep.txt").write_text("deep\n")
        (src / "noise.log").write_text("x\n")
        (src / "tmp").mkdir()
        (src / "tmp" / "t.txt").write_text("t\n")
        assert until(lambda: cat(stack, "/app/keep.txt") == "v1\n")
        assert until(lambda: cat(stack, "/app/new/deep.txt") == "deep\n")
        time.sleep(0.5)  # one more debounce window: ignored files must still be absent
        listing = stack.run("exec", "-T", "app", "find", "/app").stdout.split()
        assert "/app/noise.log" not in listing and "/app/tmp" not in listing
        (src / "keep.txt").unlink()
        assert until(lambda: "/app/keep.txt" not in
                     stack.run("exec", "-T", "app", "find", "/app").stdout.split())


@pytest.mark.root
def test_watch_sync_restart_and_exec(stack: Stack) -> None:
    conf = stack.dir / "conf"
    conf.mkdir()
    (conf / "a.conf").write_text("one\n")
    hooks = stack.dir / "hooks"
    hooks.mkdir()
    (hooks / "h.txt").write_text("h0\n")
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "date +%s%N >> /tmp/starts; {SLEEPER}"]
    develop:
      watch:
        - path: ./conf
          action: sync+restart
          target: /etc/app
        - path: ./hooks
          action: sync+exec
          target: /hooks
          exec:
            command: ["sh", "-c", "cat /hooks/h.txt > /tmp/hooked"]
""")
    with watching(stack):
        assert cat(stack, "/tmp/starts").count("\n") == 1
        (conf / "a.conf").write_text("two\n")
        # a restart keeps the container (and its /tmp): a second start line appears
        assert until(lambda: cat(stack, "/tmp/starts").count("\n") == 2, 20)
        assert cat(stack, "/etc/app/a.conf") == "two\n"
        (hooks / "h.txt").write_text("h1\n")
        assert until(lambda: cat(stack, "/tmp/hooked") == "h1\n")
        assert cat(stack, "/tmp/starts").count("\n") == 2  # exec, no restart


@pytest.mark.root
def test_watch_rebuild_recreates_with_new_image(stack: Stack) -> None:
    ctx = stack.dir / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY msg.txt /msg.txt\n")
    (ctx / "msg.txt").write_text("first\n")
    stack.write(f"""
services:
  app:
    build: ./ctx
    command: ["sh", "-c", "{SLEEPER}"]
    develop:
      watch:
        - path: ./ctx
          action: rebuild
""")
    with watching(stack):
        first = stack.run("ps", "-q").stdout.split()
        assert cat(stack, "/msg.txt") == "first\n"
        (ctx / "msg.txt").write_text("second\n")
        assert until(lambda: cat(stack, "/msg.txt") == "second\n", 60)
        assert stack.run("ps", "-q").stdout.split() != first  # recreated


@pytest.mark.root
def test_watch_without_develop_section_is_an_error(stack: Stack) -> None:
    stack.write(f"""
services:
  app:
    image: {IMAGE}
""")
    out = stack.run("watch", check=False)
    assert out.returncode == 1
    assert "develop" in out.stderr
