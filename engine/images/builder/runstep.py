"""RUN: execute a command in an engine container over the stage's layers."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from engine.containers.build import NETWORK_FILES, run_build_step
from engine.containers.spec import Mount
from engine.errors import EngineError
from engine.images.builder import rootview
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Instruction

log = logging.getLogger(__name__)
OUTPUT_TAIL = 2000
RUNTIME_MOUNTPOINTS = ("/proc", "/sys", "/dev")


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How one RUN step's container is set up (besides its command)."""

    env: tuple[str, ...]
    workdir: str
    user: str
    network: str  # none | host | the name of the build's NATed network
    mounts: tuple[Mount, ...] = ()
    extra_hosts: tuple[tuple[str, str], ...] = ()
    shm_size: int | None = None
    ulimits: dict[str, tuple[int, int]] = field(default_factory=dict)
    privileged: bool = False


def run_step(lower: Sequence[Path], upper: Path, argv: list[str], opts: RunOptions,
             ins: Instruction, file: str) -> None:
    """Run ``argv`` with ``lower`` as the read-only layers and ``upper`` collecting changes."""
    try:
        code, output = run_build_step(
            layers=list(lower), upper_dir=upper, argv=argv, env=opts.env,
            working_dir=opts.workdir, user=opts.user, network=opts.network,
            mounts=opts.mounts, extra_hosts=opts.extra_hosts, shm_size=opts.shm_size,
            ulimits=opts.ulimits, privileged=opts.privileged)
    except EngineError as exc:
        raise BuildError(f"RUN could not start: {exc}", line=ins.line, file=file) from None
    targets = [*RUNTIME_MOUNTPOINTS, *NETWORK_FILES, *(m.target for m in opts.mounts)]
    drop_mount_stubs(lower, upper, targets)
    text = output.decode("utf-8", "replace")
    for line in text.splitlines():
        log.info("%s:%d: %s", file, ins.line, line)
    if code != 0:
        tail = text[-OUTPUT_TAIL:]
        raise BuildError(f"RUN {argv!r} exited with code {code}\n{tail}", line=ins.line,
                         file=file)


def drop_mount_stubs(lower: Sequence[Path], upper: Path, targets: Sequence[str]) -> None:
    """Remove the empty files and directories the runtime made in ``upper`` as mount points
    (and their empty parents) where the image has nothing: they are not content."""
    for target in sorted(set(targets), key=lambda t: -t.count("/")):
        rel = target.strip("/")
        while rel:
            path = upper / rel
            if rootview.lookup(lower, rel) is not None or not _empty_stub(path):
                break
            path.rmdir() if path.is_dir() else path.unlink()
            rel = rel.rpartition("/")[0]


def _empty_stub(path: Path) -> bool:
    if path.is_symlink() or not (path.exists()):
        return False
    if path.is_dir():
        return not any(path.iterdir())
    return path.is_file() and path.stat().st_size == 0
