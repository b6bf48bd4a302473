"""One Dockerfile ``RUN`` step: a throw-away container over the image's layers whose writable
layer is the caller's ``upper_dir`` (the image builder turns it into the new layer)."""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.containers import lifecycle, paths
from engine.containers.spec import ContainerSpec, NetworkMode
from engine.errors import EngineError
from engine.naming import new_id

BUILD_LABEL = "org.pycompose.build-step"


def run_build_step(*, layers: Sequence[Path], upper_dir: Path, argv: Sequence[str],
                   env: Sequence[str] = (), working_dir: str = "", user: str = "",
                   network: str = "none") -> tuple[int, bytes]:
    """Run ``argv`` over ``layers`` + ``upper_dir`` with default isolation; return the exit
    code and the combined output. Everything but ``upper_dir``'s contents is removed."""
    if not layers:
        raise EngineError("a build step needs at least one layer", step="build",
                          obj=" ".join(argv))
    if network not in ("none", "host"):
        raise EngineError(f"build steps run with network none or host, not {network!r}",
                          step="build", obj=" ".join(argv))
    upper_dir.mkdir(parents=True, exist_ok=True)
    work = upper_dir.parent / (upper_dir.name + ".work")  # overlay: same filesystem as upper
    work.mkdir(exist_ok=True)
    spec = ContainerSpec(name=f"build-{new_id()[:16]}", argv=tuple(argv), layers=tuple(layers),
                         env=tuple(env), working_dir=working_dir, user=user,
                         labels={BUILD_LABEL: "1"}, network_mode=NetworkMode(network),
                         stop_grace_period=1)
    info = lifecycle.create(spec)
    try:
        for link, real in ((paths.upper_dir(info.id), upper_dir), (paths.work_dir(info.id), work)):
            link.rmdir()
            link.symlink_to(real.resolve())
        try:
            lifecycle.start(info.id)
        except EngineError as exc:
            code = getattr(exc, "exit_code", None)
            if code is None:
                raise
            return int(code), f"{exc}\n".encode()
        status = lifecycle.wait(info.id)
        output = b"".join(_raw_lines(info.id))
        return status.code, output
    finally:
        lifecycle.delete(info.id, force=True)
        shutil.rmtree(work, ignore_errors=True)


def _raw_lines(cid: str) -> list[bytes]:
    from engine.containers import logfile

    return [(line.text + "\n").encode() for line in logfile.read(paths.log_file(cid))]

