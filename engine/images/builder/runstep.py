"""RUN: execute a command in an engine container over the stage's layers."""
from __future__ import annotations

import importlib
import logging
from collections.abc import Sequence
from pathlib import Path

from engine.containers.spec import Mount
from engine.errors import EngineError
from engine.images.builder.errors import BuildError
from engine.images.builder.parser import Instruction

log = logging.getLogger(__name__)
OUTPUT_TAIL = 2000


def run_step(lower: Sequence[Path], upper: Path, argv: list[str], env: list[str],
             workdir: str, user: str, network: str, ins: Instruction, file: str,
             mounts: Sequence[Mount] = ()) -> None:
    """Run ``argv`` with ``lower`` as the read-only layers and ``upper`` collecting changes;
    ``mounts`` (RUN --mount) are there for the step only, their mount points dropped after."""
    containers = importlib.import_module("engine.containers")
    run_build_step = getattr(containers, "run_build_step", None)
    if run_build_step is None:
        raise BuildError("RUN needs engine.containers.run_build_step, which this build of "
                         "pycompose does not provide", line=ins.line, file=file)
    try:
        code, output = run_build_step(layers=list(lower), upper_dir=upper, argv=argv, env=env,
                                      working_dir=workdir, user=user, network=network,
                                      release_network=False, mounts=tuple(mounts))
    except EngineError as exc:
        raise BuildError(f"RUN could not start: {exc}", line=ins.line, file=file) from None
    _drop_mountpoints(lower, upper)
    if mounts:
        from engine.images.builder import rootview
        from engine.images.builder.runmounts import drop_mount_points

        drop_mount_points(upper, lambda rel: rootview.lookup(lower, rel) is not None,
                          [m.target for m in mounts])
    text = output.decode("utf-8", "replace")
    for line in text.splitlines():
        log.info("%s:%d: %s", file, ins.line, line)
    if code != 0:
        tail = text[-OUTPUT_TAIL:]
        raise BuildError(f"RUN {argv!r} exited with code {code}\n{tail}", line=ins.line,
                         file=file)


def _drop_mountpoints(lower: Sequence[Path], upper: Path) -> None:
    """Remove the empty /proc, /sys, /dev the runtime made as mount points (not content)."""
    from engine.images.builder import rootview

    for name in ("proc", "sys", "dev"):
        path = upper / name
        if path.is_dir() and not path.is_symlink() and not any(path.iterdir()) and \
                rootview.lookup(lower, name) is None:
            path.rmdir()
    # the mount point of the step's own resolv.conf (default network), unless the image had one
    resolv = upper / "etc" / "resolv.conf"
    if resolv.is_file() and not resolv.is_symlink() and resolv.stat().st_size == 0 and \
            rootview.lookup(lower, "etc/resolv.conf") is None:
        resolv.unlink()
        etc = upper / "etc"
        if not any(etc.iterdir()):  # only there as the mount point's parent
            etc.rmdir()
