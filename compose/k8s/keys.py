"""Every service key, and what the Kubernetes conversion does with it.

``MAPPED`` keys become part of the manifests (some only for some values: the mapping code
reports those values itself); ``APPLIED`` keys were already applied by the loader; every other
key is in ``LOSSY`` with the reason it has no Kubernetes form. A key in none of them is a key
this table has not been taught: also an error, so a new spec key can never be dropped silently.
"""
from __future__ import annotations

from collections.abc import Iterator

from compose.config.model import Service

MAPPED = frozenset((
    "annotations build cap_add cap_drop command configs cpus depends_on deploy dns dns_opt "
    "dns_search entrypoint environment expose extra_hosts group_add healthcheck hostname image "
    "init ipc labels mem_limit mem_reservation networks network_mode pid platform ports "
    "privileged pull_policy read_only restart scale secrets security_opt shm_size stdin_open "
    "stop_grace_period sysctls tmpfs tty user volumes working_dir pids_limit stop_signal "
    "container_name"
).split())

APPLIED = frozenset(("profiles", "env_file", "label_file", "extends"))

LOSSY = {
    "attach": "log attachment is a client matter (kubectl logs)",
    "blkio_config": "Kubernetes has no block I/O limits",
    "cgroup": "a pod's cgroup namespace is not configurable",
    "cgroup_parent": "pods are placed in cgroups by the kubelet",
    "cpu_count": "no Kubernetes form (use cpus)",
    "cpu_percent": "no Kubernetes form (use cpus)",
    "cpu_period": "the CFS period is a kubelet setting",
    "cpu_quota": "no Kubernetes form (use cpus)",
    "cpu_rt_period": "no real-time scheduling in pods",
    "cpu_rt_runtime": "no real-time scheduling in pods",
    "cpu_shares": "relative CPU shares have no Kubernetes form (use cpus reservations)",
    "cpuset": "CPU pinning is the kubelet's CPU manager's decision",
    "credential_spec": "Windows credential specs are not supported",
    "develop": "develop.watch is a local development loop",
    "device_cgroup_rules": "device access is the device plugins' matter",
    "devices": "host devices need a device plugin",
    "domainname": "a pod's domain comes from its Service and subdomain",
    "external_links": "links to containers outside the project do not exist in a cluster",
    "gpus": "GPUs need a device plugin and its resource name",
    "isolation": "Windows isolation modes are not supported",
    "links": "links are replaced by DNS names (Services); link aliases are not",
    "log_driver": "logging is the cluster's matter",
    "log_opt": "logging is the cluster's matter",
    "logging": "logging is the cluster's matter",
    "mac_address": "pod MAC addresses are assigned by the network plugin",
    "mem_swappiness": "swap behaviour is a node setting",
    "memswap_limit": "swap limits are a node setting",
    "models": "models need a model runner",
    "net": "use network_mode",
    "oom_kill_disable": "the OOM killer cannot be disabled for a pod",
    "oom_score_adj": "the kubelet sets OOM scores from the QoS class",
    "post_start": "lifecycle hooks run as the container's user, not as compose's hooks do",
    "pre_start": "no pre-start hook in Kubernetes",
    "pre_stop": "lifecycle hooks run as the container's user, not as compose's hooks do",
    "provider": "provider services are not containers",
    "runtime": "use a RuntimeClass",
    "storage_opt": "storage options are the storage class's matter",
    "ulimits": "ulimits are a container runtime setting of the node",
    "use_api_socket": "there is no engine API socket in a cluster",
    "userns_mode": "user namespaces are set by hostUsers, not by mode",
    "uts": "a pod's UTS namespace is not configurable",
    "volume_driver": "volume drivers are storage classes",
    "volumes_from": "containers of different pods cannot share volumes that way",
    "dockerfile": "use build",
}


def unmapped_keys(svc: Service) -> Iterator[tuple[str, str]]:
    """(key, reason) for each key of ``svc`` the conversion cannot express."""
    for key in svc.raw:
        if key.startswith("x-") or key in MAPPED or key in APPLIED:
            continue
        yield key, LOSSY.get(key, "this key has no Kubernetes mapping in pycompose")
