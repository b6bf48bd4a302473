"""One Dockerfile ``RUN`` step: a throw-away container over the image's layers whose writable
layer is the caller's ``upper_dir`` (the image builder turns it into the new layer)."""
from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.containers import lifecycle, paths
from engine.containers.spec import ContainerSpec, Mount, MountType, NetworkMode
from engine.errors import EngineError
from engine.naming import new_id

BUILD_LABEL = "org.pycompose.build-step"


def run_build_step(*, layers: Sequence[Path], upper_dir: Path, argv: Sequence[str],
                   env: Sequence[str] = (), working_dir: str = "", user: str = "",
                   network: str = "none", release_network: bool = True,
                   mounts: tuple[Mount, ...] = ()) -> tuple[int, bytes]:
    """Run ``argv`` over ``layers`` + ``upper_dir`` with default isolation; return the exit
    code and the combined output. Everything but ``upper_dir``'s contents is removed.
    ``network`` ``bridge`` joins the default bridge; a builder running several steps passes
    ``release_network=False`` and releases the bridge itself at the end."""
    if not layers:
        raise EngineError("a build step needs at least one layer", step="build",
                          obj=" ".join(argv))
    if network not in ("none", "host", "bridge"):
        raise EngineError(f"build steps run with network bridge, none or host, not {network!r}",
                          step="build", obj=" ".join(argv))
    upper_dir.mkdir(parents=True, exist_ok=True)
    work = upper_dir.parent / (upper_dir.name + ".work")  # overlay: same filesystem as upper
    work.mkdir(exist_ok=True)
    name = f"build-{new_id()[:16]}"
    spec = ContainerSpec(name=name, argv=tuple(argv), layers=tuple(layers),
                         env=tuple(env), working_dir=working_dir, user=user,
                         labels={BUILD_LABEL: "1"}, mounts=mounts,
                         network_mode=NetworkMode.HOST if network == "host" else NetworkMode.NONE,
                         stop_grace_period=1)
    if network == "bridge":
        spec = _on_default_bridge(spec, work)
    try:
        info = lifecycle.create(spec)
    except BaseException:
        _leave_default_bridge(spec, release_network)
        raise
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
        _leave_default_bridge(spec, release_network)
        shutil.rmtree(work, ignore_errors=True)


def _on_default_bridge(spec: ContainerSpec, work: Path) -> ContainerSpec:
    """docker's default for RUN: a NATed network namespace on the default bridge (outbound
    works, nothing is published), with the host's resolvers (no embedded DNS there)."""
    from engine import networks

    networks.ensure_default_bridge()
    try:
        path = networks.create_sandbox(spec.name)
        networks.connect(spec.name, networks.DEFAULT_BRIDGE, networks.EndpointSpec())
        resolv = work.parent / (work.name + ".resolv.conf")  # outside the layer's upper dir
        networks.write_resolv_conf(resolv, use_embedded=False)
    except BaseException:
        _leave_default_bridge(dataclasses.replace(spec, netns_path="(partial)"), True)
        raise
    mount = Mount(MountType.BIND, "/etc/resolv.conf", str(resolv), read_only=True)
    return dataclasses.replace(spec, netns_path=str(path), mounts=spec.mounts + (mount,))


def _leave_default_bridge(spec: ContainerSpec, release: bool) -> None:
    if spec.netns_path is None:
        return
    from engine import networks
    from engine.errors import NotFound

    try:
        networks.remove_sandbox(spec.name)
    except NotFound:
        pass
    if spec.mounts and spec.mounts[-1].target == "/etc/resolv.conf":
        Path(spec.mounts[-1].source).unlink(missing_ok=True)
    if release:
        networks.release_default_bridge()


def _raw_lines(cid: str) -> list[bytes]:
    from engine.containers import logfile

    return [(line.text + "\n").encode() for line in logfile.read(paths.log_file(cid))]

