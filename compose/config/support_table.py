"""What pycompose does with every key of the Compose Specification, as data.

Key paths use the schema-walk notation of ``schema/compose-spec.json``: ``*`` is any name in a
mapping (a service, a network ...), ``[]`` any item of a list. Every path the schema defines is in
exactly one of three tables (``tests/unit/config/test_support_table.py`` walks the schema to prove
it):

- ``HANDLED``: mapped to the engine or the orchestrator with docker compose's semantics;
- ``NO_EFFECT``: accepted, and like docker compose without a swarm it changes nothing on one
  host; ``up`` says so in a warning (never silently);
- ``REJECTED``: refused with file, line and key before anything is created; a rejected path
  covers everything under it.

``VALUE_RULES`` reject some values of handled keys. This module is the single source of the
README's "Not supported" section (``python -m compose.config.support`` prints it).
"""
from __future__ import annotations

from dataclasses import dataclass


def _paths(groups: dict[str, str]) -> frozenset[str]:
    """``{"services.*": "image command"}`` → ``{"services.*.image", "services.*.command"}``;
    the key ``""`` lists full paths."""
    out = set()
    for prefix, names in groups.items():
        for name in names.split():
            out.add(f"{prefix}.{name}" if prefix else name)
    return frozenset(out)


HANDLED: frozenset[str] = _paths({
    "": "version name include services networks volumes secrets configs",
    "include.[]": "path env_file project_directory",
    "include": "[]",
    "services": "*",
    "services.*": (
        "attach blkio_config build cap_add cap_drop command configs container_name cpu_shares "
        "cpus cpuset depends_on deploy develop devices dns dns_opt dns_search domainname "
        "entrypoint env_file environment expose extends extra_hosts group_add healthcheck "
        "hostname image init ipc "
        "label_file labels links logging mac_address mem_limit mem_reservation memswap_limit "
        "network_mode networks oom_score_adj pid pids_limit platform ports post_start pre_stop "
        "privileged profiles pull_policy pull_refresh_after read_only restart scale secrets "
        "security_opt shm_size stdin_open stop_grace_period stop_signal sysctls tmpfs tty "
        "ulimits user volumes volumes_from working_dir"),
    "services.*.build": "context dockerfile dockerfile_inline args labels target network "
                        "no_cache pull tags platforms isolation secrets cache_from "
                        "additional_contexts shm_size extra_hosts privileged ulimits "
                        "entitlements",
    "services.*.build.secrets": "[]",
    "services.*.blkio_config": "device_read_bps device_read_iops device_write_bps "
                               "device_write_iops weight weight_device",
    "services.*.blkio_config.device_read_bps": "[]",
    "services.*.blkio_config.device_read_iops": "[]",
    "services.*.blkio_config.device_write_bps": "[]",
    "services.*.blkio_config.device_write_iops": "[]",
    "services.*.blkio_config.device_read_bps.[]": "path rate",
    "services.*.blkio_config.device_read_iops.[]": "path rate",
    "services.*.blkio_config.device_write_bps.[]": "path rate",
    "services.*.blkio_config.device_write_iops.[]": "path rate",
    "services.*.blkio_config.weight_device": "[]",
    "services.*.blkio_config.weight_device.[]": "path weight",
    "services.*.devices": "[]",
    "services.*.devices.[]": "source target permissions",
    "services.*.build.ulimits": "*",
    "services.*.build.ulimits.*": "hard soft",
    "services.*.build.secrets.[]": "source target",
    "services.*.configs": "[]",
    "services.*.configs.[]": "source target uid gid mode",
    "services.*.secrets": "[]",
    "services.*.secrets.[]": "source target uid gid mode",
    "services.*.depends_on": "*",
    "services.*.depends_on.*": "condition required restart",
    "services.*.deploy": "mode replicas labels resources restart_policy",
    "services.*.deploy.resources": "limits reservations",
    "services.*.deploy.resources.limits": "cpus memory pids",
    "services.*.deploy.resources.reservations": "cpus memory",
    "services.*.deploy.restart_policy": "condition delay max_attempts window",
    # develop.watch belongs to `pycompose watch` (the commands work)
    "services.*.develop": "watch",
    "services.*.develop.watch": "[]",
    "services.*.develop.watch.[]": "action exec ignore include initial_sync path target",
    "services.*.develop.watch.[].exec": "command environment privileged user working_dir",
    "services.*.env_file": "[]",
    "services.*.env_file.[]": "path required format",
    "services.*.extends": "file service",
    "services.*.healthcheck": "disable interval retries start_interval start_period test "
                              "timeout",
    "services.*.logging": "driver options",
    "services.*.networks": "*",
    "services.*.networks.*": "aliases ipv4_address ipv6_address mac_address priority "
                             "gw_priority",
    "services.*.post_start": "[]",
    "services.*.post_start.[]": "command user privileged working_dir environment",
    "services.*.pre_stop": "[]",
    "services.*.pre_stop.[]": "command user privileged working_dir environment",
    "services.*.ports": "[]",
    "services.*.ports.[]": "target published host_ip protocol mode name app_protocol",
    "services.*.ulimits": "*",
    "services.*.ulimits.*": "soft hard",
    "services.*.volumes": "[]",
    "services.*.volumes.[]": "type source target read_only bind volume tmpfs image",
    "services.*.volumes.[].image": "subpath",
    "services.*.volumes.[].bind": "propagation create_host_path",
    "services.*.volumes.[].volume": "nocopy subpath",
    "services.*.volumes.[].tmpfs": "size mode",
    "networks": "*",
    "networks.*": "name driver driver_opts ipam external internal attachable labels "
                  "enable_ipv4 enable_ipv6",
    "networks.*.external": "name",
    "networks.*.ipam": "driver config options",
    "networks.*.ipam.config": "[]",
    "networks.*.ipam.config.[]": "subnet ip_range gateway aux_addresses",
    "volumes": "*",
    "volumes.*": "name driver driver_opts external labels",
    "volumes.*.external": "name",
    "secrets": "*",
    "secrets.*": "name file environment external labels",
    "secrets.*.external": "name",
    "configs": "*",
    "configs.*": "name file environment content external labels",
    "configs.*.external": "name",
})

# Swarm-only settings: docker compose accepts them and, without a swarm, they change nothing.
_SWARM = "a swarm setting; docker compose ignores it without a swarm, and so does pycompose"
NO_EFFECT: dict[str, str] = {
    "services.*.deploy.endpoint_mode": _SWARM,
    "services.*.deploy.placement": _SWARM,
    "services.*.deploy.update_config": _SWARM,
    "services.*.deploy.rollback_config": _SWARM,
    "services.*.volumes.[].consistency": "a macOS file-sharing hint; on Linux docker ignores it",
    "services.*.volumes.[].bind.selinux": "SELinux relabelling; like docker on a host without "
                                          "SELinux, nothing is relabelled",
}

_BUILDER = "the pycompose builder does not support it yet"
_NO_CGROUP = "the engine does not set this cgroup setting"
REJECTED: dict[str, str] = {
    # build
    "services.*.build.ssh": f"SSH agent forwarding into RUN steps; {_BUILDER}",
    "services.*.build.secrets.[].uid": f"owner of a build secret; {_BUILDER}",
    "services.*.build.secrets.[].gid": f"group of a build secret; {_BUILDER}",
    "services.*.build.secrets.[].mode": f"mode of a build secret; {_BUILDER}",
    "services.*.build.cache_to": f"build cache export; {_BUILDER}",
    "services.*.build.provenance": f"provenance attestations; {_BUILDER}",
    "services.*.build.sbom": f"SBOM attestations; {_BUILDER}",
    # services
    "services.*.annotations": "OCI annotations are not passed to containers",
    "services.*.cgroup": "cgroup namespace modes other than the default",
    "services.*.cgroup_parent": "containers live under pycompose's own cgroup",
    "services.*.cpu_count": "a Windows setting",
    "services.*.cpu_percent": "a Windows setting",
    "services.*.cpu_period": _NO_CGROUP,
    "services.*.cpu_quota": _NO_CGROUP,
    "services.*.cpu_rt_period": _NO_CGROUP,
    "services.*.cpu_rt_runtime": _NO_CGROUP,
    "services.*.credential_spec": "a Windows setting",
    "services.*.device_cgroup_rules": "custom device cgroup rules",
    "services.*.external_links": "links to containers outside the project",
    "services.*.gpus": "GPU access",
    "services.*.isolation": "a Windows setting",
    "services.*.mem_swappiness": _NO_CGROUP,
    "services.*.models": "AI models need Docker Model Runner",
    "services.*.oom_kill_disable": _NO_CGROUP,
    "services.*.pre_start": "pre_start hooks (one-off containers before the service starts)",
    "services.*.provider": "services run by a provider plugin (only images and builds run)",
    "services.*.runtime": "choose the runtime with PYCOMPOSE_RUNTIME instead",
    "services.*.storage_opt": "per-container storage driver options",
    "services.*.use_api_socket": "there is no Docker API socket to share",
    "services.*.userns_mode": "user namespace remapping",
    "services.*.uts": "UTS namespace modes other than the default",
    "services.*.deploy.resources.reservations.devices": "device reservations (GPUs)",
    "services.*.deploy.resources.reservations.generic_resources": "a swarm resource",
    "services.*.networks.*.link_local_ips": "link-local addresses on endpoints",
    "services.*.networks.*.interface_name": "custom interface names in containers",
    "services.*.networks.*.driver_opts": "endpoint driver options",
    "services.*.volumes.[].bind.recursive": "non-recursive or read-only-recursive binds",
    "services.*.volumes.[].volume.labels": "labels on anonymous volumes",
    # top level
    "models": "AI models need Docker Model Runner",
    "secrets.*.driver": "secret drivers",
    "secrets.*.driver_opts": "secret drivers",
    "secrets.*.template_driver": "secret templating",
    "configs.*.template_driver": "config templating",
}


@dataclass(frozen=True, slots=True)
class ValueRule:
    """Values of a handled key that pycompose refuses: ``allowed`` lists what it accepts."""

    path: str
    allowed: tuple[str, ...]
    reason: str
    prefix_ok: tuple[str, ...] = ()  # values starting with one of these are accepted too


VALUE_RULES: tuple[ValueRule, ...] = (
    ValueRule("services.*.logging.driver", ("json-file", "local", "none"),
              "other log drivers (syslog, journald, fluentd ...) are not available"),
    ValueRule("services.*.platform", ("linux", "linux/amd64", "linux/x86_64"),
              "images run on this host's platform only"),
    ValueRule("services.*.build.platforms", ("linux", "linux/amd64", "linux/x86_64"),
              "the builder builds for this host's platform only"),
    ValueRule("services.*.build.isolation", ("default",), "a Windows setting"),
    ValueRule("services.*.build.network", ("default", "bridge", "host", "none"),
              "RUN steps on a project network"),
    ValueRule("services.*.pid", ("host",), "sharing the PID namespace of other containers"),
    ValueRule("services.*.ipc", ("host", "private", "shareable"),
              "an IPC namespace without /dev/shm", ("service:", "container:")),
    ValueRule("services.*.network_mode", ("host", "none", "bridge"),
              "the network_mode value", ("service:", "container:")),
    ValueRule("services.*.security_opt",
              ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true",
               "no-new-privileges:false", "no-new-privileges=false",
               "seccomp=unconfined", "seccomp:unconfined", "apparmor=unconfined",
               "apparmor:unconfined", "label=disable", "label:disable"),
              "seccomp profiles from files, AppArmor and SELinux labels"),
    ValueRule("services.*.volumes.[].type", ("bind", "volume", "tmpfs", "image"),
              "npipe and cluster mounts"),
    ValueRule("services.*.ports.[].protocol", ("tcp", "udp"), "SCTP ports"),
    ValueRule("services.*.ports.[].mode", ("ingress", "host"), "the port mode"),
    ValueRule("services.*.post_start.[].privileged", ("false",),
              "privileged hooks (a hook runs with the container's own privileges)"),
    ValueRule("services.*.pre_stop.[].privileged", ("false",),
              "privileged hooks (a hook runs with the container's own privileges)"),
    ValueRule("services.*.deploy.mode", ("replicated", "global"), "the deploy mode"),
)
