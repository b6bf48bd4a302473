"""Build the frozen model (:mod:`compose.config.model`) from the canonical mapping."""
from __future__ import annotations

from collections.abc import Mapping

from compose.config import model as m
from compose.config.units import parse_duration, parse_size
from compose.errors import ConfigError

TYPE_CHECKING = False  # (typing is not loaded on the config path)
if TYPE_CHECKING:
    from typing import Any


def build_project(canonical: Mapping[str, Any], lenient: bool = False, **extra: Any) -> m.Project:
    """The Project for a canonical mapping; ``extra`` fills the non-file fields
    (working_dir, environment, profiles, …). ``lenient`` (files read without interpolation,
    only fit for printing) keeps a service whose values cannot be typed as raw data only."""
    build = _lenient_service if lenient else _checked_service
    return m.Project(
        name=canonical["name"],
        services={k: build(k, v) for k, v in canonical.get("services", {}).items()},
        networks={k: build_network(k, v) for k, v in canonical.get("networks", {}).items()},
        volumes={k: build_volume(k, v) for k, v in canonical.get("volumes", {}).items()},
        secrets={k: build_file_object(k, v) for k, v in canonical.get("secrets", {}).items()},
        configs={k: build_file_object(k, v) for k, v in canonical.get("configs", {}).items()},
        extensions={k: v for k, v in canonical.items() if k.startswith("x-")},
        raw=canonical,
        **extra,
    )


def _checked_service(name: str, s: Mapping[str, Any]) -> m.Service:
    # The schema and semantic checks should have caught every bad value; this is the net
    # that keeps a value they missed from becoming a traceback.
    try:
        return build_service(name, s)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ConfigError(f"service {name!r} has a value pycompose cannot use: "
                          f"{type(exc).__name__}: {exc}", key_path=f"services.{name}") from None


def _lenient_service(name: str, s: Mapping[str, Any]) -> m.Service:
    try:
        return build_service(name, s)
    except (ValueError, TypeError, KeyError, AttributeError):
        return m.Service(name=name, image=s.get("image"), raw=s)


def _t(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in ([value] if isinstance(value, str) else value))


def _opt_int(value: Any) -> int | None:
    return None if value is None else int(value)


def _opt_size(value: Any) -> int | None:
    return None if value is None else parse_size(value)


def _opt_duration(value: Any) -> float | None:
    return None if value is None else parse_duration(value)


def _strs(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in (value or {}).items()}


def build_service(name: str, s: Mapping[str, Any]) -> m.Service:
    """One Service from its canonical mapping."""
    return m.Service(
        name=name,
        image=s.get("image"),
        build=_build(s["build"]) if s.get("build") else None,
        command=tuple(s["command"]) if s.get("command") is not None else None,
        entrypoint=tuple(s["entrypoint"]) if s.get("entrypoint") is not None else None,
        environment=dict(s.get("environment") or {}),
        ports=tuple(_port(p) for p in s.get("ports") or ()),
        expose=_t(s.get("expose")),
        volumes=tuple(_mount(v) for v in s.get("volumes") or ()),
        volumes_from=_t(s.get("volumes_from")),
        tmpfs=_t(s.get("tmpfs")),
        depends_on={k: m.DependsOn(v["condition"], bool(v.get("restart")),
                                   bool(v.get("required", True)))
                    for k, v in (s.get("depends_on") or {}).items()},
        links=_t(s.get("links")),
        external_links=_t(s.get("external_links")),
        healthcheck=_healthcheck(s["healthcheck"]) if s.get("healthcheck") else None,
        networks={k: _service_network(v or {}) for k, v in (s.get("networks") or {}).items()},
        network_mode=s.get("network_mode"),
        hostname=s.get("hostname"),
        domainname=s.get("domainname"),
        container_name=s.get("container_name"),
        working_dir=s.get("working_dir"),
        user=None if s.get("user") is None else str(s["user"]),
        restart=s.get("restart"),
        labels=_strs(s.get("labels")),
        annotations=_strs(s.get("annotations")),
        profiles=_t(s.get("profiles")),
        scale=_opt_int(s.get("scale")),
        deploy=_deploy(s["deploy"]) if s.get("deploy") else None,
        secrets=tuple(_file_ref(r) for r in s.get("secrets") or ()),
        configs=tuple(_file_ref(r) for r in s.get("configs") or ()),
        ulimits={k: _ulimit(v) for k, v in (s.get("ulimits") or {}).items()},
        sysctls=_strs(s.get("sysctls")),
        extra_hosts=_hosts(s.get("extra_hosts")),
        dns=_t(s.get("dns")), dns_search=_t(s.get("dns_search")), dns_opt=_t(s.get("dns_opt")),
        cap_add=_t(s.get("cap_add")), cap_drop=_t(s.get("cap_drop")),
        security_opt=_t(s.get("security_opt")),
        devices=tuple(m.Device(d["source"], d.get("target", d["source"]),
                               d.get("permissions", "rwm")) for d in s.get("devices") or ()),
        privileged=bool(s.get("privileged")), read_only=bool(s.get("read_only")),
        init=s.get("init"), tty=bool(s.get("tty")), stdin_open=bool(s.get("stdin_open")),
        stop_signal=s.get("stop_signal"),
        stop_grace_period=_opt_duration(s.get("stop_grace_period")),
        pid=s.get("pid"), ipc=s.get("ipc"), uts=s.get("uts"), userns_mode=s.get("userns_mode"),
        cgroup=s.get("cgroup"), cgroup_parent=s.get("cgroup_parent"),
        group_add=_t(s.get("group_add")),
        mem_limit=_opt_size(s.get("mem_limit")),
        mem_reservation=_opt_size(s.get("mem_reservation")),
        memswap_limit=_opt_size(s.get("memswap_limit")),
        shm_size=_opt_size(s.get("shm_size")),
        cpus=None if s.get("cpus") is None else float(s["cpus"]),
        cpu_shares=_opt_int(s.get("cpu_shares")),
        pids_limit=_opt_int(s.get("pids_limit")),
        oom_score_adj=_opt_int(s.get("oom_score_adj")),
        pull_policy=s.get("pull_policy"), platform=s.get("platform"),
        logging=m.Logging(s["logging"].get("driver"), _strs(s["logging"].get("options")))
        if s.get("logging") else None,
        mac_address=s.get("mac_address"),
        develop=_develop(s.get("develop")),
        post_start=tuple(_hook(h) for h in s.get("post_start") or ()),
        pre_stop=tuple(_hook(h) for h in s.get("pre_stop") or ()),
        raw=s,
    )


def _develop(value: Mapping[str, Any] | None) -> Any:
    if not value:
        return None
    from compose.config.develop import develop_config  # (few files have one)

    return develop_config(value)


def _hook(h: Mapping[str, Any]) -> m.Hook:
    return m.Hook(command=_t(h.get("command")), user=h.get("user"),
                  privileged=bool(h.get("privileged")), working_dir=h.get("working_dir"),
                  environment=dict(h.get("environment") or {}))


def _build(b: Mapping[str, Any]) -> m.BuildConfig:
    return m.BuildConfig(
        context=b["context"], dockerfile=b.get("dockerfile"),
        dockerfile_inline=b.get("dockerfile_inline"),
        args={k: None if v is None else str(v) for k, v in (b.get("args") or {}).items()},
        labels=_strs(b.get("labels")), target=b.get("target"), network=b.get("network"),
        shm_size=_opt_size(b.get("shm_size")), extra_hosts=_hosts(b.get("extra_hosts")),
        no_cache=bool(b.get("no_cache")), pull=bool(b.get("pull")), tags=_t(b.get("tags")),
        platforms=_t(b.get("platforms")), cache_from=_t(b.get("cache_from")),
        cache_to=_t(b.get("cache_to")),
        additional_contexts=_strs(b.get("additional_contexts")),
        secrets=tuple(_file_ref(r) for r in b.get("secrets") or ()),
        ulimits={k: _ulimit(v) for k, v in (b.get("ulimits") or {}).items()},
        raw=b,
    )


def _port(p: Mapping[str, Any]) -> m.PortConfig:
    published = p.get("published")
    return m.PortConfig(
        target=int(p["target"]), published=None if published in (None, "") else str(published),
        host_ip=p.get("host_ip"), protocol=p.get("protocol", "tcp"),
        mode=p.get("mode", "ingress"), name=p.get("name"), app_protocol=p.get("app_protocol"))


def _mount(v: Mapping[str, Any]) -> m.VolumeMount:
    bind, vol, tmpfs = v.get("bind"), v.get("volume"), v.get("tmpfs")
    return m.VolumeMount(
        type=v["type"], target=v["target"], source=v.get("source"),
        read_only=bool(v.get("read_only")), consistency=v.get("consistency"),
        bind=m.BindOptions(bind.get("propagation"), bool(bind.get("create_host_path", True)),
                           bind.get("selinux"), bind.get("recursive"))
        if isinstance(bind, dict) else None,
        volume=m.VolumeOptions(bool(vol.get("nocopy")), vol.get("subpath"),
                               _strs(vol.get("labels"))) if isinstance(vol, dict) else None,
        tmpfs=m.TmpfsOptions(_opt_size(tmpfs.get("size")), _opt_mode(tmpfs.get("mode")))
        if isinstance(tmpfs, dict) else None,
        image_subpath=(v.get("image") or {}).get("subpath"),
    )


def _opt_mode(value: Any) -> int | None:
    if value is None:
        return None
    return int(value, 8) if isinstance(value, str) else int(value)


def _healthcheck(h: Mapping[str, Any]) -> m.Healthcheck:
    test = h.get("test")
    return m.Healthcheck(
        test=None if test is None else _t(test),
        interval=_opt_duration(h.get("interval")), timeout=_opt_duration(h.get("timeout")),
        retries=_opt_int(h.get("retries")), start_period=_opt_duration(h.get("start_period")),
        start_interval=_opt_duration(h.get("start_interval")),
        disable=bool(h.get("disable")) or (test is not None and _t(test)[:1] == ("NONE",)))


def _service_network(n: Mapping[str, Any]) -> m.ServiceNetwork:
    return m.ServiceNetwork(
        aliases=_t(n.get("aliases")), ipv4_address=n.get("ipv4_address"),
        ipv6_address=n.get("ipv6_address"), link_local_ips=_t(n.get("link_local_ips")),
        mac_address=n.get("mac_address"), interface_name=n.get("interface_name"),
        priority=int(n.get("priority") or 0), gw_priority=int(n.get("gw_priority") or 0),
        driver_opts=_strs(n.get("driver_opts")))


def _file_ref(r: Mapping[str, Any]) -> m.ServiceFileRef:
    uid, gid = r.get("uid"), r.get("gid")
    return m.ServiceFileRef(
        source=r["source"], target=r.get("target"),
        uid=None if uid is None else str(uid), gid=None if gid is None else str(gid),
        mode=_opt_mode(r.get("mode")))


def _ulimit(v: Any) -> m.Ulimit:
    if isinstance(v, dict):
        return m.Ulimit(int(v["soft"]), int(v["hard"]))
    return m.Ulimit(int(v), int(v))


def _hosts(entries: Any) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for entry in entries or ():
        host, _, ip = str(entry).partition("=")
        out.setdefault(host, []).append(ip)
    return {k: tuple(v) for k, v in out.items()}


def _deploy(d: Mapping[str, Any]) -> m.Deploy:
    resources = d.get("resources") or {}
    policy = d.get("restart_policy")
    return m.Deploy(
        mode=d.get("mode"), replicas=_opt_int(d.get("replicas")), labels=_strs(d.get("labels")),
        limits=_resources(resources.get("limits")),
        reservations=_resources(resources.get("reservations")),
        restart_policy=m.RestartPolicy(
            policy.get("condition"), _opt_duration(policy.get("delay")),
            _opt_int(policy.get("max_attempts")), _opt_duration(policy.get("window")))
        if isinstance(policy, dict) else None,
        raw=d)


def _resources(r: Any) -> m.ResourceSpec | None:
    if not isinstance(r, dict):
        return None
    return m.ResourceSpec(
        cpus=None if r.get("cpus") is None else float(r["cpus"]),
        memory=_opt_size(r.get("memory")), pids=_opt_int(r.get("pids")),
        devices=tuple(r.get("devices") or ()))


def build_network(key: str, n: Mapping[str, Any]) -> m.Network:
    """A Network from its canonical mapping."""
    ipam = n.get("ipam")
    return m.Network(
        key=key, name=n["name"], driver=n.get("driver"), driver_opts=_strs(n.get("driver_opts")),
        ipam=m.Ipam(ipam.get("driver"), tuple(
            m.IpamPool(c.get("subnet"), c.get("ip_range"), c.get("gateway"),
                       _strs(c.get("aux_addresses"))) for c in ipam.get("config") or ()),
            _strs(ipam.get("options"))) if isinstance(ipam, dict) else None,
        external=bool(n.get("external")), internal=bool(n.get("internal")),
        attachable=bool(n.get("attachable")), enable_ipv4=n.get("enable_ipv4"),
        enable_ipv6=n.get("enable_ipv6"), labels=_strs(n.get("labels")), raw=n)


def build_volume(key: str, v: Mapping[str, Any]) -> m.Volume:
    """A Volume from its canonical mapping."""
    return m.Volume(key=key, name=v["name"], driver=v.get("driver"),
                    driver_opts=_strs(v.get("driver_opts")), external=bool(v.get("external")),
                    labels=_strs(v.get("labels")), raw=v)


def build_file_object(key: str, f: Mapping[str, Any]) -> m.FileObject:
    """A secret or config from its canonical mapping."""
    return m.FileObject(
        key=key, name=f["name"], file=f.get("file"), environment=f.get("environment"),
        content=f.get("content"), external=bool(f.get("external")), labels=_strs(f.get("labels")),
        driver=f.get("driver"), driver_opts=_strs(f.get("driver_opts")),
        template_driver=f.get("template_driver"), raw=f)
