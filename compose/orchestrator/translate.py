"""Service (model) + image config → engine ContainerSpec, with docker's override rules.

Pure: volume paths, secret files and the network namespace are supplied by the caller.
Every service key is either mapped here, handled by the orchestrator (networks, ports, depends_on,
healthcheck, restart, scale ...), or rejected with a sentence naming the service and the key:
nothing is silently ignored.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from compose.config.model import Device, Service, VolumeMount
from compose.config.units import parse_size
from compose.errors import ComposeError
from engine.containers import (
    ContainerSpec,
    DeviceMapping,
    Mount,
    MountType,
    NetworkMode,
    Resources,
)

log = logging.getLogger(__name__)

# Keys the orchestrator or this module implement (``x-*`` extensions are always allowed).
HANDLED_KEYS = frozenset({
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose",
    "volumes", "tmpfs", "depends_on", "links", "healthcheck", "networks", "network_mode",
    "hostname", "domainname", "container_name", "working_dir", "user", "restart", "labels",
    "profiles", "scale", "deploy", "secrets", "configs", "ulimits", "sysctls", "extra_hosts",
    "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "privileged", "read_only", "init",
    "tty", "stdin_open", "stop_signal", "stop_grace_period", "pid", "ipc", "group_add",
    "mem_limit", "mem_reservation", "memswap_limit", "shm_size", "cpus", "cpu_shares",
    "pids_limit", "oom_score_adj", "pull_policy", "platform", "logging", "attach", "cpuset",
    "security_opt", "label_file", "develop", "mac_address", "volumes_from", "post_start",
    "pre_stop", "pull_refresh_after", "devices", "blkio_config",
})
_SUPPORTED_DEPLOY = frozenset({"mode", "replicas", "labels", "resources", "restart_policy"})
_SUPPORTED_LOG_DRIVERS = (None, "json-file", "local", "none")
_SUPPORTED_PLATFORMS = (None, "linux", "linux/amd64", "linux/x86_64")


class TranslateError(ComposeError):
    """A service uses something the engine cannot do."""


def unsupported(service: str, key: str, detail: str = "") -> TranslateError:
    """The one error shape for features pycompose does not implement."""
    tail = f" ({detail})" if detail else ""
    return TranslateError(f'service "{service}": key "{key}" is not supported by pycompose{tail}',
                          key_path=f"services.{service}.{key}")


def check_supported(svc: Service) -> None:
    """Raise for the first key of ``svc`` pycompose cannot honour."""
    for key in svc.raw:
        if key.startswith("x-"):
            continue
        if key not in HANDLED_KEYS:
            raise unsupported(svc.name, key)
    _check_values(svc)


def _check_values(svc: Service) -> None:
    hc = svc.healthcheck
    if hc is not None and hc.start_interval is not None and hc.start_period is None:
        raise TranslateError(f'service "{svc.name}": healthcheck.start_interval requires '
                             "healthcheck.start_period to be set",
                             key_path=f"services.{svc.name}.healthcheck.start_interval")
    if svc.deploy is not None:
        for key in svc.deploy.raw:
            if key not in _SUPPORTED_DEPLOY:
                raise unsupported(svc.name, f"deploy.{key}")
        for res in (svc.deploy.limits, svc.deploy.reservations):
            if res is not None and res.devices:
                raise unsupported(svc.name, "deploy.resources.devices")
    if svc.logging is not None and svc.logging.driver not in _SUPPORTED_LOG_DRIVERS:
        raise unsupported(svc.name, "logging.driver", f"driver {svc.logging.driver!r}")
    if svc.logging is not None and svc.logging.options:
        log.warning("service %s: logging.options %s are not applied (the engine keeps one "
                    "unrotated JSON-lines log per container)", svc.name,
                    sorted(svc.logging.options))
    if svc.platform not in _SUPPORTED_PLATFORMS:
        raise unsupported(svc.name, "platform", svc.platform or "")
    if svc.pid not in (None, "host", ""):
        raise unsupported(svc.name, "pid", f"only 'host' ({svc.pid!r} given)")
    if svc.ipc not in (None, "", "host", "private", "shareable") and not str(svc.ipc).startswith(
            ("service:", "container:")):
        raise unsupported(svc.name, "ipc", f"only host, private, shareable, service:NAME or "
                          f"container:NAME ({svc.ipc!r} given)")
    for opt in svc.security_opt:
        security_option(svc.name, opt)
    for ref in svc.volumes_from:
        parse_volumes_from(svc.name, ref)
    for dev in svc.devices:
        check_device(svc.name, dev)
    for m in svc.volumes:
        if m.type not in ("bind", "volume", "tmpfs", "image"):
            raise unsupported(svc.name, "volumes", f"mount type {m.type!r}")


def check_device(service: str, dev: Device) -> None:
    """A ``devices:`` entry must name a host path, an absolute target and r/w/m permissions."""
    key = f"services.{service}.devices"
    if not dev.source.startswith("/"):
        if "=" in dev.source:  # CDI: vendor.com/class=name
            raise unsupported(service, "devices", f"CDI device {dev.source!r}: pycompose has "
                              "no CDI registry; give the device's path, e.g. /dev/dri/renderD128")
        raise TranslateError(f'service "{service}": device {dev.source!r} is not an absolute '
                             "host path", key_path=key)
    if not dev.target.startswith("/"):
        raise TranslateError(f'service "{service}": device target {dev.target!r} is not an '
                             "absolute path", key_path=key)
    perms = dev.permissions
    if not perms or len(set(perms)) != len(perms) or not set(perms) <= set("rwm"):
        raise TranslateError(f'service "{service}": device {dev.source!r} has invalid '
                             f"permissions {perms!r} (a combination of r, w and m)", key_path=key)


@dataclass(frozen=True, slots=True)
class SecurityOptions:
    """What ``security_opt`` asks of the engine."""

    no_new_privileges: bool = False
    seccomp: str = "default"


def security_option(service: str, opt: str) -> tuple[str, str]:
    """One ``security_opt`` entry as (name, value): ``no-new-privileges[:true|false]``,
    ``seccomp=unconfined``; ``apparmor=unconfined`` and ``label=disable`` change nothing on a
    host without AppArmor/SELinux confinement of containers. Anything else is refused."""
    name, _, value = opt.replace(":", "=", 1).partition("=")
    if name == "no-new-privileges" and value in ("", "true", "false"):
        return name, value or "true"
    if (name, value) in (("seccomp", "unconfined"), ("apparmor", "unconfined"),
                         ("label", "disable")):
        return name, value
    raise unsupported(service, "security_opt", opt)


def security_options(svc: Service) -> SecurityOptions:
    """The engine's no_new_privs and seccomp settings for ``svc`` (later entries win)."""
    nnp, seccomp = False, "default"
    for opt in svc.security_opt:
        name, value = security_option(svc.name, opt)
        if name == "no-new-privileges":
            nnp = value == "true"
        elif name == "seccomp":
            seccomp = value
    return SecurityOptions(nnp, seccomp)


@dataclass(frozen=True, slots=True)
class VolumesFrom:
    """One ``volumes_from`` entry: a service's or a container's mounts, optionally ro/rw."""

    source: str
    is_container: bool
    read_only: bool | None  # None: as the source has them


def parse_volumes_from(service: str, ref: str) -> VolumesFrom:
    """``svc``, ``svc:ro``, ``container:name``, ``container:name:rw``."""
    is_container = ref.startswith("container:")
    body = ref.removeprefix("container:")
    name, _, mode = body.partition(":")
    if not name or mode not in ("", "ro", "rw"):
        raise TranslateError(f'service "{service}": invalid volumes_from entry {ref!r} (expected '
                             "SERVICE[:ro|:rw] or container:NAME[:ro|:rw])",
                             key_path=f"services.{service}.volumes_from")
    return VolumesFrom(name, is_container, None if not mode else mode == "ro")


def inherited_mounts(entry: VolumesFrom, source_mounts: tuple[Mount, ...],
                     own: tuple[Mount, ...], generated_under: str | None) -> tuple[Mount, ...]:
    """The volume and bind mounts a container takes from ``source_mounts`` for ``entry``:
    not tmpfs, not the source's generated files (resolv.conf, hosts, secrets: under
    ``generated_under``), not targets the service mounts itself; ro/rw as the entry says."""
    taken = {m.target.rstrip("/") for m in own}
    out = []
    for m in source_mounts:
        if m.type is MountType.TMPFS or m.target.rstrip("/") in taken:
            continue
        if generated_under and m.source.startswith(generated_under.rstrip("/") + "/"):
            continue
        ro = m.read_only if entry.read_only is None else entry.read_only
        out.append(Mount(m.type, m.target, m.source, ro, propagation=m.propagation))
        taken.add(m.target.rstrip("/"))
    return tuple(out)


def link_aliases(services: Mapping[str, Service], target: str, network: str
                 ) -> tuple[str, ...]:
    """Names ``target`` answers to on ``network`` because services there link to it with an
    alias (``links: ["db:database"]``): docker scopes those to the linking container; pycompose
    makes them network aliases of the target."""
    out: dict[str, None] = {}
    for svc in services.values():
        nets = set(svc.networks) or {"default"}
        if network not in nets or svc.network_mode is not None:
            continue
        for link in svc.links:
            name, _, alias = link.partition(":")
            if name == target and alias and alias != name:
                out[alias] = None
    return tuple(out)


def command_argv(svc: Service, image_entrypoint: tuple[str, ...] | None,
                 image_cmd: tuple[str, ...] | None) -> tuple[str, ...]:
    """entrypoint + command with docker's rules: ``command`` replaces CMD; setting
    ``entrypoint`` also resets CMD unless ``command`` is given."""
    entrypoint = svc.entrypoint if svc.entrypoint is not None else (image_entrypoint or ())
    if svc.command is not None:
        cmd: tuple[str, ...] = svc.command
    elif svc.entrypoint is not None:
        cmd = ()
    else:
        cmd = image_cmd or ()
    argv = tuple(entrypoint) + tuple(cmd)
    if not argv:
        raise TranslateError(f'service "{svc.name}": no command specified (the image has no '
                             "CMD/ENTRYPOINT and the service sets none)")
    return argv


def merged_env(image_env: tuple[str, ...],
               environment: Mapping[str, str | None]) -> tuple[str, ...]:
    """Image Env, then the service environment (env_file already folded in by the loader);
    a variable without a value (unset in the shell) unsets the image's, like docker's ``KEY``
    entry without ``=``."""
    env: dict[str, str] = {}
    for item in image_env:
        key, _, value = item.partition("=")
        env[key] = value
    for key, val in environment.items():
        if val is None:
            env.pop(key, None)
        else:
            env[key] = val
    return tuple(f"{k}={v}" for k, v in env.items())


@dataclass(frozen=True, slots=True)
class VolumeRequest:
    """A volume a container needs: ``name`` is the engine volume name, None for anonymous."""

    name: str | None
    target: str
    nocopy: bool = False
    subpath: str | None = None


VolumeSource = Callable[[VolumeRequest], str]  # ensures the volume, returns its host path
# (image source, subpath) -> the layer directories to stack, lowest first
ImageLayers = Callable[[str, "str | None"], tuple[str, ...]]


def _no_image_mounts(source: str, _subpath: str | None) -> tuple[str, ...]:
    raise TranslateError(f"image mount of {source}: no image store available")


def service_mounts(svc: Service, volume_names: Mapping[str, str], image_volumes: tuple[str, ...],
                   volume_source: VolumeSource,
                   image_layers: ImageLayers = _no_image_mounts) -> tuple[Mount, ...]:
    """Mounts of one container: service volumes (``type: image`` ones stacked read-only from
    ``image_layers``), ``tmpfs:`` entries, and an anonymous volume for every image VOLUME not
    covered by a service mount."""
    mounts = [Mount(MountType.IMAGE, m.target, read_only=True,
                    lower=image_layers(m.source or "", m.image_subpath))
              if m.type == "image" else _mount(svc, m, volume_names, volume_source)
              for m in svc.volumes]
    for entry in svc.tmpfs:
        target, _, opts = entry.partition(":")
        mounts.append(Mount(MountType.TMPFS, target, tmpfs_size=_tmpfs_size(opts)))
    covered = {m.target.rstrip("/") for m in mounts}
    for path in image_volumes:
        if path.rstrip("/") not in covered:
            src = volume_source(VolumeRequest(None, path))
            mounts.append(Mount(MountType.VOLUME, path, src))
    return tuple(mounts)


def _tmpfs_size(opts: str) -> int | None:
    for opt in opts.split(","):
        key, _, val = opt.partition("=")
        if key == "size" and val.isdigit():
            return int(val)
    return None


def _mount(svc: Service, m: VolumeMount, volume_names: Mapping[str, str],
           volume_source: VolumeSource) -> Mount:
    if m.type == "tmpfs":
        opts = m.tmpfs
        return Mount(MountType.TMPFS, m.target, read_only=m.read_only,
                     tmpfs_size=opts.size if opts else None, tmpfs_mode=opts.mode if opts else None)
    if m.type == "bind":
        assert m.source is not None
        bind = m.bind
        return Mount(MountType.BIND, m.target, m.source, m.read_only,
                     propagation=(bind.propagation if bind and bind.propagation else "rprivate"),
                     create_host_path=bind.create_host_path if bind else True)
    name = None
    if m.source is not None:
        if m.source not in volume_names:
            raise TranslateError(f'service "{svc.name}" refers to undefined volume {m.source}',
                                 key_path=f"services.{svc.name}.volumes")
        name = volume_names[m.source]
    vopts = m.volume
    req = VolumeRequest(name, m.target, bool(vopts and vopts.nocopy),
                        vopts.subpath if vopts else None)
    return Mount(MountType.VOLUME, m.target, volume_source(req), m.read_only)


def resources(svc: Service) -> Resources:
    """cgroup limits: the service keys win over ``deploy.resources``."""
    limits = svc.deploy.limits if svc.deploy is not None else None
    reserv = svc.deploy.reservations if svc.deploy is not None else None
    if reserv is not None and reserv.cpus:
        log.warning("service %s: deploy.resources.reservations.cpus only matters to a "
                    "scheduler; a single host has none (no limit applied)", svc.name)
    res = Resources(
        memory=svc.mem_limit or (limits.memory if limits else None),
        memory_reservation=svc.mem_reservation or (reserv.memory if reserv else None),
        memory_swap=svc.memswap_limit,
        cpus=svc.cpus or (limits.cpus if limits else None),
        cpu_shares=svc.cpu_shares,
        cpuset=svc.raw.get("cpuset"),
        pids_limit=svc.pids_limit or (limits.pids if limits else None),
        oom_score_adj=svc.oom_score_adj,
        **blkio(svc),
    )
    _warn_unenforced(svc, res)
    return res


_WARNED_UNENFORCED: set[str] = set()


def _limit_keys(svc: Service, res: Resources) -> list[str]:
    """The compose keys that asked for ``res``'s cgroup limits, as the user wrote them."""
    deploy = "deploy.resources.limits."
    named = [(res.memory, "mem_limit" if svc.mem_limit else deploy + "memory"),
             (res.memory_reservation, "mem_reservation" if svc.mem_reservation
              else "deploy.resources.reservations.memory"),
             (res.memory_swap, "memswap_limit"),
             (res.cpus, "cpus" if svc.cpus else deploy + "cpus"),
             (res.cpu_shares, "cpu_shares"), (res.cpuset, "cpuset"),
             (res.pids_limit, "pids_limit" if svc.pids_limit else deploy + "pids"),
             (res.blkio_weight or res.blkio_weight_device or res.device_read_bps
              or res.device_write_bps or res.device_read_iops or res.device_write_iops,
              "blkio_config")]
    return [key for value, key in named if value]


def _warn_unenforced(svc: Service, res: Resources) -> None:
    """Rootless without a delegated cgroup: one warning per service naming the limits that
    will not be enforced (the stack still runs; never a silent drop)."""
    keys = _limit_keys(svc, res)
    if not keys or svc.name in _WARNED_UNENFORCED:
        return
    from engine.rootless.cgroups import NO_CGROUP, limits_enforced

    if limits_enforced():
        return
    _WARNED_UNENFORCED.add(svc.name)
    log.warning("service %s: %s not enforced: running rootless and %s", svc.name,
                ", ".join(keys), NO_CGROUP)


def shared_service(mode: str | None) -> str | None:
    """The service named by a ``service:NAME`` mode (network_mode, ipc), else None."""
    return mode.split(":", 1)[1] if mode and mode.startswith("service:") else None


def ipc_mode(svc: Service, service_container: Callable[[str], str]) -> str:
    """The engine ipc mode: ``host``, ``container:NAME`` (``service:S`` is the first
    container of S, as in docker compose), else a private namespace (``shareable`` is
    docker's name for a private namespace others may join)."""
    other = shared_service(svc.ipc)
    if other is not None:
        return f"container:{service_container(other)}"
    if svc.ipc == "host" or (svc.ipc or "").startswith("container:"):
        return str(svc.ipc)
    return "private"


def blkio(svc: Service) -> dict[str, Any]:
    """``blkio_config`` as engine Resources fields (rates in bytes or IOs per second)."""
    cfg = svc.raw.get("blkio_config") or {}
    out: dict[str, Any] = {}
    if cfg.get("weight") is not None:
        out["blkio_weight"] = int(cfg["weight"])
    if cfg.get("weight_device"):
        out["blkio_weight_device"] = tuple((d["path"], int(d["weight"]))
                                           for d in cfg["weight_device"])
    for key in ("device_read_bps", "device_write_bps"):
        if cfg.get(key):
            out[key] = tuple((d["path"], parse_size(d["rate"])) for d in cfg[key])
    for key in ("device_read_iops", "device_write_iops"):
        if cfg.get(key):
            out[key] = tuple((d["path"], int(d["rate"])) for d in cfg[key])
    return out


def network_mode(svc: Service) -> NetworkMode:
    """The engine network mode for services not joined to compose networks."""
    return NetworkMode.HOST if svc.network_mode == "host" else NetworkMode.NONE


def container_spec(svc: Service, *, name: str, image_config: Any, layers: tuple[Any, ...],
                   labels: Mapping[str, str], mounts: tuple[Mount, ...],
                   netns_path: str | None = None, extra_mounts: tuple[Mount, ...] = (),
                   hostname: str | None = None,
                   service_container: Callable[[str], str] = lambda s: s) -> ContainerSpec:
    """Build the ContainerSpec of one container of ``svc`` (call :func:`check_supported` first).

    ``image_config`` is an engine ``ImageConfig``; ``extra_mounts`` carries secrets, configs and
    the per-container resolv.conf/hosts files; ``service_container`` names the container a
    ``service:NAME`` namespace mode joins.
    """
    cfg = image_config
    security = security_options(svc)
    return ContainerSpec(
        name=name,
        argv=command_argv(svc, cfg.entrypoint, cfg.cmd),
        layers=tuple(layers),
        labels={**cfg.labels_dict(), **dict(svc.labels), **dict(labels)},
        env=merged_env(cfg.env, svc.environment),
        working_dir=svc.working_dir or cfg.working_dir or "",
        user=svc.user if svc.user is not None else cfg.user,
        group_add=tuple(svc.group_add),
        hostname=hostname or svc.hostname or "",
        domainname=svc.domainname or "",
        mounts=mounts + extra_mounts,
        read_only=svc.read_only,
        privileged=svc.privileged,
        no_new_privileges=security.no_new_privileges,
        seccomp=security.seccomp,
        log_driver="none" if svc.logging is not None and svc.logging.driver == "none"
        else "json-file",
        cap_add=tuple(svc.cap_add),
        cap_drop=tuple(svc.cap_drop),
        sysctls=dict(svc.sysctls),
        ulimits={k: (u.soft, u.hard) for k, u in svc.ulimits.items()},
        init=bool(svc.init),
        shm_size=svc.shm_size,
        stop_signal=svc.stop_signal or cfg.stop_signal or "SIGTERM",
        stop_grace_period=svc.stop_grace_period if svc.stop_grace_period is not None else 10.0,
        resources=resources(svc),
        netns_path=netns_path,
        network_mode=network_mode(svc),
        ipc_mode=ipc_mode(svc, service_container),
        pid_mode="host" if svc.pid == "host" else "private",
        tty=svc.tty,
        stdin_open=svc.stdin_open,
        devices=tuple(DeviceMapping(d.source, d.target, d.permissions) for d in svc.devices),
    )
