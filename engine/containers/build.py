"""One Dockerfile ``RUN`` step: a throw-away container over the image's layers whose writable
layer is the caller's ``upper_dir`` (the image builder turns it into the new layer)."""
from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.containers import lifecycle, paths
from engine.containers.spec import ContainerSpec, Mount, MountType, NetworkMode
from engine.errors import EngineError
from engine.naming import new_id

BUILD_LABEL = "org.pycompose.build-step"
# Bind-mounted into every RUN container, never part of the layer (like docker's RUN).
NETWORK_FILES = ("/etc/resolv.conf", "/etc/hosts")
HOSTNAME = "buildkitsandbox"  # what RUN steps see under docker's builder


def run_build_step(*, layers: Sequence[Path], upper_dir: Path, argv: Sequence[str],
                   env: Sequence[str] = (), working_dir: str = "", user: str = "",
                   network: str = "none", mounts: Sequence[Mount] = (),
                   extra_hosts: Sequence[tuple[str, str]] = (), shm_size: int | None = None,
                   ulimits: dict[str, tuple[int, int]] | None = None,
                   privileged: bool = False) -> tuple[int, bytes]:
    """Run ``argv`` over ``layers`` + ``upper_dir`` with default isolation; return the exit
    code and the combined output. Everything but ``upper_dir``'s contents is removed.

    ``network`` is ``none``, ``host``, or the name of an engine network the step joins through
    a sandbox of its own (NATed outbound, nothing published), removed with the step."""
    if not layers:
        raise EngineError("a build step needs at least one layer", step="build",
                          obj=" ".join(argv))
    upper_dir.mkdir(parents=True, exist_ok=True)
    work = upper_dir.parent / (upper_dir.name + ".work")  # overlay: same filesystem as upper
    work.mkdir(exist_ok=True)
    files = upper_dir.parent / (upper_dir.name + ".files")
    name = f"build-{new_id()[:16]}"
    try:
        netns = _plumb(name, network, files, extra_hosts)
        net_mounts = tuple(Mount(MountType.BIND, target, str(files / Path(target).name))
                           for target in NETWORK_FILES)
        spec = ContainerSpec(
            name=name, argv=tuple(argv), layers=tuple(layers), env=tuple(env),
            working_dir=working_dir, user=user, labels={BUILD_LABEL: "1"},
            hostname="" if network == "host" else HOSTNAME,
            network_mode=NetworkMode.HOST if network == "host" else NetworkMode.NONE,
            netns_path=netns, mounts=net_mounts + tuple(mounts), stop_grace_period=1,
            shm_size=shm_size, ulimits=dict(ulimits or {}), privileged=privileged)
        return _run(spec, upper_dir, work)
    finally:
        if network not in ("none", "host"):
            _unplumb(name)
        shutil.rmtree(files, ignore_errors=True)


def _plumb(name: str, network: str, files: Path,
           extra_hosts: Sequence[tuple[str, str]]) -> str | None:
    """resolv.conf and hosts for the step; a sandbox on ``network`` unless none/host."""
    from engine import networks

    files.mkdir(exist_ok=True)
    hosts_file, resolv = files / "hosts", files / "resolv.conf"
    if network in ("none", "host"):
        networks.write_resolv_conf(resolv, use_embedded=False, host_network=network == "host")
        networks.write_hosts(hosts_file, hostname=HOSTNAME, addresses=(),
                             extra_hosts=extra_hosts)
        return None
    path = networks.create_sandbox(name)
    ep = networks.connect(name, network, networks.EndpointSpec())
    networks.write_resolv_conf(resolv, use_embedded=True)
    networks.write_hosts(hosts_file, hostname=HOSTNAME,
                         addresses=[a for a in (ep.ipv4,) if a], extra_hosts=extra_hosts)
    return str(path)


def _unplumb(name: str) -> None:
    from engine import networks
    from engine.errors import NotFound

    try:
        networks.remove_sandbox(name)
    except NotFound:
        pass


def _run(spec: ContainerSpec, upper_dir: Path, work: Path) -> tuple[int, bytes]:
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

