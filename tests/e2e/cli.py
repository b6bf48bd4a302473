"""Scaffolding for CLI-level tests: run ``pycompose`` like a user in a private state root,
import a busybox image, and list everything a project left on the host.

Usage (see tests/integration/orchestrator/conftest.py)::

    stack = Stack(project_dir, state_root, "myproj")
    import_busybox(state_root, busybox_rootfs, tmp_dir)
    stack.write(compose_text); stack.run("up", "-d", "--wait"); ...
    stack.run("down", "-v", "-t", "1"); assert leftovers(stack) == []
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

IMAGE = "pctest/busybox:1"
SLEEPER = "trap 'exit 0' TERM; sleep 300 & wait"  # exits at once on SIGTERM


@dataclass
class Stack:
    """One project directory + state root; ``run`` invokes the CLI like a user."""

    dir: Path
    root: Path
    name: str

    def env(self) -> dict[str, str]:
        return {**os.environ, "PYCOMPOSE_ROOT": str(self.root), "NO_COLOR": "1"}

    def run(self, *args: str, check: bool = True, timeout: float = 90
            ) -> subprocess.CompletedProcess[str]:
        try:
            proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", self.name,
                                   *args], cwd=self.dir, env=self.env(), capture_output=True,
                                  text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:  # show how far it got
            raise AssertionError(f"pycompose {' '.join(args)} timed out after {timeout}s\n"
                                 f"stdout:\n{exc.stdout!r}\nstderr:\n{exc.stderr!r}\n"
                                 f"supervisor log:\n{self.supervisor_log()}") from None
        if check and proc.returncode != 0:
            raise AssertionError(f"pycompose {' '.join(args)} -> {proc.returncode}\n"
                                 f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def supervisor_log(self) -> str:
        path = self.root / "run" / f"project-{self.name}.log"
        return path.read_text()[-3000:] if path.exists() else "(none)"

    def write(self, text: str) -> None:
        (self.dir / "compose.yaml").write_text(text)


def import_busybox(root: Path, rootfs: Path, work: Path) -> None:
    tar = work / "rootfs.tar"
    with tarfile.open(tar, "w") as tf:
        tf.add(rootfs, arcname=".")
    code = ("import sys; from pathlib import Path; from engine import images; "
            f"images.import_rootfs(Path({str(tar)!r}), {IMAGE!r}, changes={{'Cmd': ['sh']}})")
    subprocess.run([sys.executable, "-c", code], check=True,
                   env={**os.environ, "PYCOMPOSE_ROOT": str(root)})


def leftovers(stack: Stack) -> list[str]:
    """Everything of the project still on the host."""
    left = []
    mounts = Path("/proc/self/mounts").read_text()
    left += [ln for ln in mounts.splitlines() if str(stack.root) in ln]
    pidfile = stack.root / "run" / f"project-{stack.name}.pid"
    if pidfile.exists():
        left.append(f"supervisor pid file {pidfile}")
    netns = stack.root / "netns"
    if netns.exists():
        left += [f"netns {p}" for p in netns.iterdir()]
    code = ("import json; from engine import containers, networks, volumes; "
            "print(json.dumps([c.name for c in containers.list_containers()] + "
            "[n.name for n in networks.list_networks()] + "
            "[v.name for v in volumes.list_volumes()]))")
    out = subprocess.run([sys.executable, "-c", code], env=stack.env(), capture_output=True,
                         text=True, check=True).stdout
    left += [f"engine object {n}" for n in json.loads(out)]
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"PYCOMPOSE_ROOT={stack.root}".encode() in env and int(pid) != os.getpid():
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                # the engine-wide DNS daemon and shim fork server are not the project's, nor
                # is the warm engine (it exits on its own; test_warm_engine.py checks when)
                if not any(n in cmd for n in (b"dnsd", b"shimd", b"compose.cli.warmserver")):
                    left.append(f"process {pid}: {cmd[:80]!r}")
    return left
