"""The real Backend: engine.images / volumes / networks / containers.

Per container, in write-ahead order: the container row (``containers.create``) first, then its
files (resolv.conf, hosts, secrets), its sandbox (a netns keyed by the container *name*, so the
path is known before the id), endpoints and published ports. Removal undoes it in reverse and
tolerates any step being already gone, so ``down`` also cleans up after a killed ``up``.
"""
from __future__ import annotations

import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from compose.config.model import (
    FileObject,
    Network,
    Project,
    Service,
    ServiceFileRef,
    ServiceNetwork,
    Volume,
)
from compose.errors import ComposeError
from compose.orchestrator import labels as L
from compose.orchestrator.backend import (
    ContainerRef,
    CreateRequest,
    ImageInfo,
    NotRunning,
    Progress,
    Removals,
)
from compose.orchestrator.imagespec import image_name
from engine import containers, images, networks
from engine.containers import Mount, MountType
from engine.errors import Conflict, NotFound
from engine.overlap import together
from engine.paths import ensure_dir, ensure_spread_dir, state_root

if TYPE_CHECKING:  # the create path's modules load with it: ps/exec/logs/down never need them
    from compose.orchestrator.translate import VolumeRequest, VolumesFrom

log = logging.getLogger(__name__)


def files_dir(project: str, container: str) -> Path:
    """Where a container's generated files (resolv.conf, hosts, secrets) live."""
    return state_root() / "projects" / project / "containers" / container


class EngineBackend:
    """Backend over the embedded engine."""

    # -- images --------------------------------------------------------------------------------

    def ensure_image(self, project: Project, service: Service, *, pull: str, build: bool,
                     progress: Progress) -> ImageInfo:
        from compose.orchestrator.imagesources import refresh_due

        ref = image_name(project, service)
        have = images.exists(ref)
        if service.build is not None and (build or pull == "build" or not have):
            from compose.orchestrator.imagespec import build_spec

            progress(f"Image {ref}", "Building")
            images.build(build_spec(project, service))
            progress(f"Image {ref}", "Built")
        elif pull == "always" or (not have and pull != "never") or refresh_due(
                ref, pull, service.raw.get("pull_refresh_after")):
            progress(f"Image {ref}", "Pulling")
            images.pull(ref)
            progress(f"Image {ref}", "Pulled")
        elif not have:
            raise ComposeError(f"service {service.name!r}: image {ref} not found locally "
                               "(pull_policy: never)")
        img = images.resolve(ref)
        return ImageInfo(img.id, img.config, tuple(img.layer_dirs))

    def remove_image(self, ref: str) -> None:
        images.remove(ref)

    # -- networks and volumes ------------------------------------------------------------------

    def ensure_network(self, project: Project, network: Network) -> bool:
        if network.external:
            if not networks.network_exists(network.name):
                raise ComposeError(f"network {network.name} declared as external, but could "
                                   "not be found")
            return False
        if networks.network_exists(network.name):
            return False
        if network.driver not in (None, "bridge"):
            raise ComposeError(f"network {network.key}: driver {network.driver!r} is not "
                               "supported by pycompose (bridge only)")
        pools = network.ipam.config if network.ipam else ()
        spec = networks.NetworkSpec(
            name=network.name,
            labels={**dict(network.labels), L.PROJECT: project.name, L.NETWORK: network.key,
                    L.VERSION: L.COMPOSE_VERSION},
            internal=network.internal, attachable=network.attachable,
            enable_ipv4=network.enable_ipv4 is not False,
            enable_ipv6=bool(network.enable_ipv6),
            ipam=networks.IpamSpec(configs=tuple(
                networks.IpamConfig(p.subnet, p.ip_range, p.gateway, dict(p.aux_addresses))
                for p in pools)),
            driver_opts=dict(network.driver_opts))
        networks.create_network(spec)
        return True

    def remove_network(self, name: str) -> None:
        networks.remove_network(name)

    def release_default_bridge(self) -> bool:
        return bool(networks.release_default_bridge())

    def list_networks(self, project: str) -> list[str]:
        return [n.name for n in networks.list_networks({L.PROJECT: project})]

    def ensure_volume(self, project: Project, volume: Volume) -> bool:
        from engine import volumes

        if volume.external:
            try:
                volumes.inspect_volume(volume.name)
            except NotFound:
                raise ComposeError(f"external volume {volume.name!r} not found") from None
            return False
        existed = any(v.name == volume.name for v in volumes.list_volumes())
        volumes.create_volume(volume.name, driver=volume.driver or "local",
                              options=dict(volume.driver_opts),
                              labels={**dict(volume.labels), L.PROJECT: project.name,
                                      L.VOLUME: volume.key, L.VERSION: L.COMPOSE_VERSION,
                                      L.CONFIG_HASH: L.volume_hash(volume)})
        return not existed

    def volume_config_hash(self, name: str) -> str | None:
        from engine import volumes

        found = [v for v in volumes.list_volumes() if v.name == name]
        return found[0].labels.get(L.CONFIG_HASH, "") if found else None

    def remove_volume(self, name: str) -> None:
        from engine import volumes

        volumes.remove_volume(name, missing_ok=True)

    def list_volumes(self, project: str) -> list[str]:
        from engine import volumes

        return [v.name for v in volumes.list_volumes({L.PROJECT: project})]

    def anonymous_volumes(self, cid: str) -> dict[str, str]:
        """The container's anonymous volumes: mount target -> volume name."""
        from engine import volumes
        from engine.containers.record import spec_from_json

        info = containers.inspect(cid)
        anon = volumes.list_volumes({L.PROJECT: info.labels.get(L.PROJECT, ""), L.VOLUME: ""})
        by_path = {str(v.mountpoint): v.name for v in anon}
        return {m.target.rstrip("/") or "/": by_path[str(m.source)]
                for m in spec_from_json(info.spec).mounts
                if m.type is MountType.VOLUME and str(m.source) in by_path}

    # -- containers ----------------------------------------------------------------------------

    def list_containers(self, project: str | None, all: bool = True) -> list[ContainerRef]:
        found = containers.list_containers({L.PROJECT: project} if project else None, all=all)
        if not project:
            found = [c for c in found if L.PROJECT in c.labels]
        return [_ref(c) for c in found]

    def stop_idle_helpers(self) -> None:
        """End the engine's shim fork server when no container of this state root remains
        (it would otherwise linger until its idle timeout after `down`), and the DNS daemon
        when no sandbox does (one spawned for a killed `up` would wait to be told)."""
        if not containers.list_containers(None, all=True):
            from engine import warm
            from engine.containers import shimd

            shimd.stop_server(keep_engines=True)  # the warm engine's own goes with it
            warm.linger()  # the warm engine, if this command runs in one, goes soon after
        networks.stop_idle_dns()

    def prepare_starts(self, sandboxes: bool) -> Callable[[], None]:
        """Begin starting the shim fork server now rather than at the first start, and (for
        containers with their own netns) the DNS daemon, which the first sandbox otherwise
        waits for: both overlap the networks' set-up. The returned function waits for the
        DNS daemon's start (a command must not return with one still starting: the ``down``
        that may follow would not see it)."""
        from engine.containers import shimd

        shimd.start_early()
        if not sandboxes:
            return lambda: None
        starter = threading.Thread(target=_start_dns, name="dns-early", daemon=True)
        starter.start()
        return starter.join

    def create_container(self, req: CreateRequest) -> str:
        from compose.orchestrator.imagesources import image_mount_layers
        from compose.orchestrator.translate import container_spec, service_mounts

        svc, project = req.service, req.project
        if req.command is not None:  # run's COMMAND replaces the CMD; the entrypoint stays
            svc = _replace(svc, command=req.command)
        fdir = files_dir(project.name, req.name)
        ensure_spread_dir(fdir.parent.parent.parent, 0o755)  # projects/
        ensure_spread_dir(fdir.parent, 0o755)  # projects/<project>/containers/
        ensure_dir(fdir, 0o755)
        vol_names = {k: v.name for k, v in project.volumes.items()}
        mounts = service_mounts(svc, vol_names, tuple(req.image.config.volumes),
                                lambda r: self._volume_source(req, r),
                                lambda src, sub: image_mount_layers(project, svc, src, sub))
        mounts += self._volumes_from(project, svc, mounts)
        extra = self._file_mounts(project, svc, fdir)
        netns = self._netns_path(project, svc, req.name)
        spec = container_spec(svc, name=req.name, image_config=req.image.config,
                              layers=req.image.layers, labels=req.labels, mounts=mounts,
                              netns_path=netns, extra_mounts=extra,
                              service_container=lambda s: project.container_name(s, 1))
        info = containers.create(spec)
        try:
            self._plumb(project, svc, req.name, info.id, fdir, req.use_aliases)
        except BaseException:
            self.remove_container(info.id)
            raise
        _announce("created", info)
        return info.id

    def _volumes_from(self, project: Project, svc: Service,
                      own: tuple[Mount, ...]) -> tuple[Mount, ...]:
        """The mounts ``volumes_from`` brings in from other containers."""
        from compose.orchestrator.translate import inherited_mounts, parse_volumes_from
        from engine.containers.record import spec_from_json

        out: tuple[Mount, ...] = ()
        for ref in svc.volumes_from:
            entry = parse_volumes_from(svc.name, ref)
            info = _volumes_source(project, svc, entry)
            generated = files_dir(info.labels.get(L.PROJECT) or project.name, info.name)
            out += inherited_mounts(entry, spec_from_json(info.spec).mounts, own + out,
                                    str(generated))
        return out

    def _volume_source(self, req: CreateRequest, vr: VolumeRequest) -> str:
        from engine import volumes

        carried = req.anon_volumes.get(vr.target.rstrip("/") or "/")
        if vr.name is None and carried is not None:
            name = carried  # the replaced container's data; populating skips a used volume
        elif vr.name is None:
            vol = volumes.create_volume(labels={L.PROJECT: req.project.name,
                                                L.SERVICE: req.service.name,
                                                L.VOLUME: "", "container": req.name})
            name = vol.name
        else:
            name = vr.name
        path = volumes.mount_path(name)
        if not vr.nocopy:
            volumes.populate_volume(name, req.image.layers, vr.target)
        if vr.subpath:
            path = path / vr.subpath
            path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def _file_mounts(self, project: Project, svc: Service, fdir: Path) -> tuple[Mount, ...]:
        mounts = [Mount(MountType.BIND, "/etc/resolv.conf", str(fdir / "resolv.conf")),
                  Mount(MountType.BIND, "/etc/hosts", str(fdir / "hosts"))]
        for ref in svc.secrets:
            obj = _file_object(project.secrets, ref, svc, "secret")
            target = ref.target or ref.source
            target = target if target.startswith("/") else f"/run/secrets/{target}"
            mounts.append(_materialize(ref, fdir / "secrets", target, 0o444,
                                       _content(project, obj, ref, "secret")))
        for ref in svc.configs:
            obj = _file_object(project.configs, ref, svc, "config")
            mounts.append(_materialize(ref, fdir / "configs", ref.target or f"/{ref.source}",
                                       0o444, _content(project, obj, ref, "config")))
        for name in ("resolv.conf", "hosts"):
            (fdir / name).touch()
        return tuple(mounts)

    def _netns_path(self, project: Project, svc: Service, name: str) -> str | None:
        mode = svc.network_mode
        if mode == "bridge":
            return str(networks.sandbox_path(name))
        if mode in ("host", "none"):
            return None
        if mode and mode.startswith("service:"):
            return str(networks.sandbox_path(project.container_name(mode.split(":", 1)[1], 1)))
        if mode and mode.startswith("container:"):
            other = mode.split(":", 1)[1]
            try:
                other = containers.inspect(other).name
            except NotFound:
                raise ComposeError(f'service "{svc.name}": network_mode container:{other}: no '
                                   "such container") from None
            path = networks.sandbox_path(other)
            if not path.exists():
                raise ComposeError(f'service "{svc.name}": network_mode container:{other}: that '
                                   "container has no network namespace to join") from None
            return str(path)
        return str(networks.sandbox_path(name))

    def _plumb(self, project: Project, svc: Service, name: str, cid: str, fdir: Path,
               use_aliases: bool = True) -> None:
        """Sandbox, endpoints, ports and the resolv.conf/hosts contents."""
        from compose.orchestrator.translate import link_aliases

        hostname = svc.hostname or cid[:12]
        addresses: list[str] = []
        own_netns = svc.network_mode is None
        if svc.network_mode == "bridge":
            addresses = _attach_default_bridge(svc, name)
        if own_netns:
            networks.create_sandbox(name, dns_servers=tuple(svc.dns))
            pairs: list[tuple[str, ServiceNetwork | None]] = list(svc.networks.items())
            nets = sorted(pairs or [("default", None)],
                          key=lambda kv: -(kv[1].priority if kv[1] else 0))
            for key, sn in nets:
                net = project.networks[key]
                aliases = tuple(sn.aliases) if sn and use_aliases else ()
                if use_aliases:
                    aliases += link_aliases(project.services, svc.name, key)
                # The container name comes first: it is what reverse (PTR) lookups answer.
                names = ((name, svc.name, cid[:12], hostname) if use_aliases
                         else (name, cid[:12], hostname))
                ep = networks.connect(name, net.name, networks.EndpointSpec(
                    aliases=aliases, dns_names=names,
                    ipv4_address=sn.ipv4_address if sn else None,
                    ipv6_address=sn.ipv6_address if sn else None,
                    mac_address=(sn.mac_address if sn else None) or svc.mac_address,
                    gw_priority=sn.gw_priority if sn else 0))
                addresses += [a for a in (ep.ipv4, ep.ipv6) if a]
            networks.publish_ports(name, _bindings(svc))
        extra_hosts = [(h, ip) for h, ips in svc.extra_hosts.items() for ip in ips]
        # docker's default bridge has no embedded DNS: the host's servers (or dns:), no names
        networks.write_resolv_conf(fdir / "resolv.conf", dns=svc.dns if not own_netns else (),
                                   dns_search=svc.dns_search, dns_opt=svc.dns_opt,
                                   use_embedded=own_netns)
        networks.write_hosts(fdir / "hosts", hostname=hostname, addresses=addresses[:1],
                             extra_hosts=extra_hosts)

    def start_container(self, cid: str) -> None:
        info = containers.start(cid)
        _set_active(info.name, True)
        _announce("started", info)

    def stop_container(self, cid: str, timeout: float | None, *,
                       removing: bool = False) -> None:
        info = containers.inspect(cid)
        containers.stop(cid, timeout, settled=not removing)
        if not removing:  # (a write that queues behind every other writer, and a DNS sync)
            _set_active(info.name, False)
        _announce("stopped", info)

    def kill_container(self, cid: str, signal: str) -> None:
        info = containers.inspect(cid)
        containers.kill(cid, signal)
        _announce("killed", info, signal=signal)

    def remove_container(self, cid: str) -> None:
        """The container (killed first if it runs), then its sandbox: the reverse of create,
        each step tolerating what a killed ``up`` never made."""
        try:
            info = containers.inspect(cid)
        except NotFound:  # removed meanwhile (another down, an rm)
            return
        project = info.labels.get(L.PROJECT, "")

        def remove_sandbox() -> None:
            try:
                networks.remove_sandbox(info.name)
            except NotFound:
                pass

        # at the same time (deleting the veth is mostly waiting for the kernel); the sandbox
        # goes even when the container could not
        together(lambda: containers.delete(cid, force=True), remove_sandbox)
        if project:
            shutil.rmtree(files_dir(project, info.name), ignore_errors=True)
        _announce("destroyed", info)

    def removing_together(self) -> AbstractContextManager[Removals]:
        """The removals inside it leave their veths to one deletion, started by
        ``flush_in_background`` and waited for at its end (or to the kernel's teardown of
        each netns, whichever comes first): see ``engine.networks.dellink``."""
        return networks.deferred_deletes()

    def pause_container(self, cid: str) -> None:
        containers.pause(cid)
        _announce("paused", containers.inspect(cid))

    def unpause_container(self, cid: str) -> None:
        containers.unpause(cid)
        _announce("unpaused", containers.inspect(cid))

    def wait_container(self, cid: str) -> int:
        return containers.wait(cid).code

    def logs(self, cid: str, *, follow: bool, since: str | None,
             tail: int | None) -> Iterator[Any]:
        return containers.logs(cid, follow=follow, since=since, tail=tail)

    def exec(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
             workdir: str, tty: bool, interactive: bool, privileged: bool = False,
             detach: bool = False) -> int:
        if detach:
            return containers.exec(cid, argv, env=env, user=user, workdir=workdir,
                                   privileged=privileged, stderr=2, detach=True)
        return containers.exec(cid, argv, env=env, user=user, workdir=workdir, tty=tty,
                               stdin=0 if interactive else None, stdout=1, stderr=2,
                               privileged=privileged, proxy_signals=not tty)

    def attach(self, cid: str, *, stdin: bool, sig_proxy: bool, detach_keys: str,
               replay: bool = False, stdin_once: bool = False) -> int | None:
        try:
            keys = containers.parse_detach_keys(detach_keys)
        except ValueError as exc:
            raise ComposeError(str(exc)) from None
        options = containers.AttachOptions(stdin=0 if stdin else None, sig_proxy=sig_proxy,
                                           detach_keys=keys, replay=replay,
                                           stdin_once=stdin_once)
        try:
            code = containers.attach(cid, options)
        except Conflict as exc:
            raise NotRunning(str(exc)) from None
        if code == containers.DETACHED:
            return None
        if code == containers.SHIM_GONE:  # no exit code came: the recorded one
            return self.wait_container(cid)
        return code

    def exec_output(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
                    workdir: str) -> tuple[int, bytes, bytes]:
        return containers.exec_output(cid, argv, env=env, user=user, workdir=workdir)


def _attach_default_bridge(svc: Service, name: str) -> list[str]:
    """``network_mode: bridge``: docker's default bridge network, host-wide and shared by every
    project (see engine.networks.defaultbridge). Like docker's: no embedded DNS, no aliases,
    published ports work."""
    networks.ensure_default_bridge()
    networks.create_sandbox(name, dns_servers=tuple(svc.dns))
    ep = networks.connect(name, networks.DEFAULT_BRIDGE, networks.EndpointSpec(
        aliases=(), dns_names=(), mac_address=svc.mac_address))
    networks.publish_ports(name, _bindings(svc))
    return [a for a in (ep.ipv4, ep.ipv6) if a]

    def exec_output(self, cid: str, argv: list[str], *, env: tuple[str, ...], user: str,
                    workdir: str) -> tuple[int, bytes, bytes]:
        return containers.exec_output(cid, argv, env=env, user=user, workdir=workdir)


def _volumes_source(project: Project, svc: Service, entry: VolumesFrom
                    ) -> containers.ContainerInfo:
    """The container ``volumes_from`` copies from: the named one, or the first replica of the
    service."""
    if entry.is_container:
        try:
            return containers.inspect(entry.source)
        except NotFound:
            raise ComposeError(f'service "{svc.name}": volumes_from container {entry.source}: '
                               "no such container") from None
    found = [c for c in containers.list_containers({L.PROJECT: project.name,
                                                    L.SERVICE: entry.source})
             if c.labels.get(L.ONEOFF) != "True"]
    if not found:
        raise ComposeError(f'service "{svc.name}": volumes_from {entry.source}: the service has '
                           "no container")
    return min(found, key=lambda c: int(c.labels.get(L.NUMBER, "0") or 0))


def _announce(kind: str, info: containers.ContainerInfo, **extra: Any) -> None:
    """Publish a lifecycle step this process performed, so ``events`` sees it whoever did it
    (the supervisor publishes what it sees itself: exits, health, policy restarts)."""
    from compose.orchestrator import client

    project = info.labels.get(L.PROJECT)
    if not project:
        return
    client.publish(project, {"event": kind, "container": info.id,
                             "service": info.labels.get(L.SERVICE, ""), "name": info.name,
                             "exit_code": None,
                             "detail": "", "will_restart": False, "time": time.time(),
                             **extra})


def _start_dns() -> None:
    """Start the DNS daemon unless it runs (a failure is the first sandbox's to report)."""
    from engine.networks import dns_control

    try:
        dns_control.start_early()
    except Exception as exc:  # noqa: BLE001 - create_sandbox tries again and raises
        log.debug("early DNS daemon start: %s", exc)


def _set_active(sandbox: str, active: bool) -> None:
    try:
        networks.set_endpoint_active(sandbox, active)
    except NotFound:
        pass


def _bindings(svc: Service) -> list[networks.PortBinding]:
    out = []
    for p in svc.ports:
        host = int(p.published.split("-")[0]) if p.published else 0
        out.append(networks.PortBinding(p.target, host, p.host_ip or "", p.protocol))
    return out


def _file_object(objs: Any, ref: ServiceFileRef, svc: Service, kind: str) -> FileObject:
    obj = objs.get(ref.source)
    if obj is None:
        raise ComposeError(f'service "{svc.name}" refers to undefined {kind} {ref.source}')
    if obj.external:
        raise ComposeError(f'service "{svc.name}": external {kind}s are not supported by '
                           "pycompose (no swarm)")
    return obj  # type: ignore[no-any-return]


def _content(project: Project, obj: FileObject, ref: ServiceFileRef, kind: str) -> bytes:
    """What a secret/config holds: its file, its ``content``, or the variable named by its
    ``environment`` in the project's environment (the shell over ``.env``), as docker
    compose reads it: an unset one is an error."""
    if obj.file is not None:
        return Path(obj.file).read_bytes()
    if obj.environment is not None:
        value = project.environment.get(obj.environment)
        if value is None:
            raise ComposeError(f'environment variable "{obj.environment}" required by {kind} '
                               f'"{ref.source}" is not set')
        return value.encode()
    return (obj.content or "").encode()


def _materialize(ref: ServiceFileRef, where: Path, target: str, default_mode: int,
                 data: bytes) -> Mount:
    """Write a secret/config for one container (own copy: mode/uid/gid are per use)."""
    ensure_dir(where, 0o700)
    path = where / ref.source
    path.write_bytes(data)
    os.chmod(path, ref.mode if ref.mode is not None else default_mode)
    if os.geteuid() == 0:
        os.chown(path, int(ref.uid or 0), int(ref.gid or 0))
    return Mount(MountType.BIND, target, str(path), read_only=True)


def _replace(spec: Any, **kw: Any) -> Any:
    import dataclasses

    return dataclasses.replace(spec, **kw)


def _ref(c: containers.ContainerInfo) -> ContainerRef:
    argv = c.spec.get("argv") or []
    return ContainerRef(c.id, c.name, c.state.value, dict(c.labels), c.exit_code, c.created_at,
                        c.started_at, c.labels.get(L.IMAGE, ""), " ".join(argv),
                        extra={"restart_count": c.restart_count, "finished_at": c.finished_at,
                               "pid": c.pid, "mounts": c.spec.get("mounts") or ()})
