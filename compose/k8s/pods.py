"""A compose service as a container and a pod template: command, environment, resources,
security, probes, DNS and host namespaces."""
from __future__ import annotations

import math
import os
from typing import Any

from compose.config.model import Healthcheck, Service
from compose.k8s.context import Context
from compose.k8s.names import network_label, selector

# sysctls Kubernetes treats as safe (namespaced, allowed by default by the kubelet)
SAFE_SYSCTLS = frozenset((
    "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes"))
PULL = {"always": "Always", "never": "Never", "missing": "IfNotPresent",
        "if_not_present": "IfNotPresent", "build": "IfNotPresent"}


def container(ctx: Context, svc: Service, image: str, mounts: list[dict[str, Any]]
              ) -> dict[str, Any]:
    """The service's container."""
    c: dict[str, Any] = {"name": svc.name.lower().replace("_", "-"), "image": image}
    if svc.entrypoint is not None:
        c["command"] = list(svc.entrypoint)
    if svc.command is not None:
        c["args"] = list(svc.command)
    env = _env(ctx, svc)
    if env:
        c["env"] = env
    if svc.working_dir:
        c["workingDir"] = svc.working_dir
    ports = container_ports(svc)
    if ports:
        c["ports"] = ports
    res = _resources(ctx, svc)
    if res:
        c["resources"] = res
    sec = _security(ctx, svc)
    if sec:
        c["securityContext"] = sec
    c.update(_probes(svc.healthcheck))
    if svc.stop_signal:  # needs the ContainerStopSignals feature (Kubernetes 1.33+)
        c["lifecycle"] = {"stopSignal": _signal(svc.stop_signal)}
    if svc.stdin_open:
        c["stdin"] = True
    if svc.tty:
        c["tty"] = True
    if svc.pull_policy:
        policy = PULL.get(svc.pull_policy)
        if policy is None:
            ctx.lossy(ctx.where(svc), "pull_policy",
                      f"{svc.pull_policy!r} has no Kubernetes image pull policy")
        else:
            c["imagePullPolicy"] = policy
    if mounts:
        c["volumeMounts"] = mounts
    return c


def _signal(name: str) -> str:
    upper = name.upper()
    return upper if upper.startswith("SIG") else "SIG" + upper


def _env(ctx: Context, svc: Service) -> list[dict[str, str]]:
    out = []
    for key, value in svc.environment.items():
        if value is None:  # taken from the converting shell, as compose would at run time
            value = os.environ.get(key)
            if value is None:
                continue
        out.append({"name": key, "value": str(value)})
    return out


def container_ports(svc: Service) -> list[dict[str, Any]]:
    """Ports the container listens on (published, and exposed), once each."""
    seen: dict[tuple[int, str], dict[str, Any]] = {}
    for p in svc.ports:
        seen.setdefault((p.target, p.protocol), {"containerPort": p.target,
                                                 "protocol": p.protocol.upper()})
    for text in svc.expose:
        port, _, proto = str(text).partition("/")
        lo, _, hi = port.partition("-")
        for n in range(int(lo), int(hi or lo) + 1):
            seen.setdefault((n, proto or "tcp"), {"containerPort": n,
                                                  "protocol": (proto or "tcp").upper()})
    return list(seen.values())


def _quantity_cpu(cpus: float) -> str:
    return f"{round(cpus * 1000)}m"


def _resources(ctx: Context, svc: Service) -> dict[str, Any]:
    limits: dict[str, str] = {}
    requests: dict[str, str] = {}
    lim = svc.deploy.limits if svc.deploy else None
    res = svc.deploy.reservations if svc.deploy else None
    cpus = (lim.cpus if lim else None) or svc.cpus
    memory = (lim.memory if lim else None) or svc.mem_limit
    if cpus:
        limits["cpu"] = _quantity_cpu(cpus)
    if memory:
        limits["memory"] = str(memory)
    if res and res.cpus:
        requests["cpu"] = _quantity_cpu(res.cpus)
    if (res and res.memory) or svc.mem_reservation:
        requests["memory"] = str((res.memory if res and res.memory else None)
                                 or svc.mem_reservation)
    if (lim and lim.pids) or svc.pids_limit:
        ctx.lossy(ctx.where(svc), "pids_limit", "pod pid limits are a kubelet setting")
    if (lim and lim.devices) or (res and res.devices):
        ctx.lossy(ctx.where(svc), "deploy.resources.devices", "devices need a device plugin")
    out: dict[str, Any] = {}
    if limits:
        out["limits"] = limits
    if requests:
        out["requests"] = requests
    return out


def _security(ctx: Context, svc: Service) -> dict[str, Any]:
    sec: dict[str, Any] = {}
    if svc.privileged:
        sec["privileged"] = True
    if svc.read_only:
        sec["readOnlyRootFilesystem"] = True
    caps: dict[str, list[str]] = {}
    if svc.cap_add:
        caps["add"] = [c.upper().removeprefix("CAP_") for c in svc.cap_add]
    if svc.cap_drop:
        caps["drop"] = [c.upper().removeprefix("CAP_") for c in svc.cap_drop]
    if caps:
        sec["capabilities"] = caps
    if svc.user:
        uid, _, gid = svc.user.partition(":")
        if not uid.isdigit() or (gid and not gid.isdigit()):
            ctx.lossy(ctx.where(svc), "user", f"{svc.user!r}: Kubernetes needs numeric ids")
        else:
            sec["runAsUser"] = int(uid)
            if gid:
                sec["runAsGroup"] = int(gid)
    for opt in svc.security_opt:
        key, _, value = opt.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges" and value in ("", "true"):
            sec["allowPrivilegeEscalation"] = False
        elif key == "seccomp" and value == "unconfined":
            sec["seccompProfile"] = {"type": "Unconfined"}
        else:
            ctx.lossy(ctx.where(svc), "security_opt", f"{opt!r} has no Kubernetes form")
    return sec


def _seconds(value: float | None, default: float) -> int:
    return max(1, math.ceil(value if value is not None else default))


def _probes(hc: Healthcheck | None) -> dict[str, Any]:
    """readiness and liveness probes from the healthcheck; start_period → a startup probe."""
    if hc is None or hc.disable or not hc.test or hc.test[0] == "NONE":
        return {}
    test = list(hc.test)
    command = ["/bin/sh", "-c", test[1]] if test[0] == "CMD-SHELL" else test[1:]
    probe = {"exec": {"command": command}, "periodSeconds": _seconds(hc.interval, 30),
             "timeoutSeconds": _seconds(hc.timeout, 30),
             "failureThreshold": hc.retries if hc.retries else 3}
    out: dict[str, Any] = {"readinessProbe": dict(probe), "livenessProbe": dict(probe)}
    if hc.start_period:
        every = _seconds(hc.start_interval, 5)
        out["startupProbe"] = {**probe, "periodSeconds": every,
                               "failureThreshold": max(1, math.ceil(hc.start_period / every))}
    return out


def pod_spec(ctx: Context, svc: Service, main: dict[str, Any], volumes: list[dict[str, Any]],
             init: list[dict[str, Any]], restart: str) -> dict[str, Any]:
    """The pod template's spec around ``main``."""
    spec: dict[str, Any] = {"containers": [main], "restartPolicy": restart}
    if init:
        spec["initContainers"] = init
    if volumes:
        spec["volumes"] = volumes
    if svc.hostname:
        spec["hostname"] = svc.hostname.split(".")[0].lower()
    if svc.extra_hosts:
        by_ip: dict[str, list[str]] = {}
        for host, ips in svc.extra_hosts.items():
            for ip in ips:
                if ip == "host-gateway":
                    ctx.lossy(ctx.where(svc), "extra_hosts", "host-gateway has no pod form")
                    continue
                by_ip.setdefault(ip, []).append(host)
        spec["hostAliases"] = [{"ip": ip, "hostnames": h} for ip, h in by_ip.items()]
    dns = {k: v for k, v in (("nameservers", list(svc.dns)), ("searches", list(svc.dns_search)),
                             ("options", [_dns_opt(o) for o in svc.dns_opt])) if v}
    if dns:
        spec["dnsConfig"] = dns
    if svc.stop_grace_period is not None:
        spec["terminationGracePeriodSeconds"] = math.ceil(svc.stop_grace_period)
    if svc.stop_signal:
        spec["os"] = {"name": "linux"}  # the API accepts a stop signal only with a pod OS
    if svc.init:
        spec["shareProcessNamespace"] = True  # the pause container reaps, as docker-init does
    _namespaces(ctx, svc, spec)
    psc = _pod_security(ctx, svc)
    if psc:
        spec["securityContext"] = psc
    if svc.platform:
        os_name, _, arch = svc.platform.partition("/")
        spec["nodeSelector"] = {"kubernetes.io/os": os_name,
                                **({"kubernetes.io/arch": arch.split("/")[0]} if arch else {})}
    return spec


def _dns_opt(text: str) -> dict[str, str]:
    name, sep, value = text.partition(":")
    return {"name": name, "value": value} if sep else {"name": name}


def _namespaces(ctx: Context, svc: Service, spec: dict[str, Any]) -> None:
    mode = svc.network_mode
    if mode == "host":
        spec["hostNetwork"] = True
    elif mode is not None:
        ctx.lossy(ctx.where(svc), "network_mode", f"{mode!r}: containers share a network "
                  "namespace only inside one pod")
    for key, value, field in (("pid", svc.pid, "hostPID"), ("ipc", svc.ipc, "hostIPC")):
        if value == "host":
            spec[field] = True
        elif value not in (None, "private", "shareable"):
            ctx.lossy(ctx.where(svc), key, f"{value!r} has no pod form")


def _pod_security(ctx: Context, svc: Service) -> dict[str, Any]:
    psc: dict[str, Any] = {}
    if svc.group_add:
        if all(str(g).isdigit() for g in svc.group_add):
            psc["supplementalGroups"] = [int(g) for g in svc.group_add]
        else:
            ctx.lossy(ctx.where(svc), "group_add", "Kubernetes needs numeric group ids")
    sysctls = []
    for name, value in svc.sysctls.items():
        if name in SAFE_SYSCTLS:
            sysctls.append({"name": name, "value": str(value)})
        else:
            ctx.lossy(ctx.where(svc), f"sysctls.{name}", "not a sysctl Kubernetes allows "
                      "by default")
    if sysctls:
        psc["sysctls"] = sysctls
    return psc


def pod_labels(ctx: Context, svc: Service) -> dict[str, str]:
    """The pod's labels: its selector and one label per compose network it is on."""
    labels = selector(ctx.project.name, svc.name)
    if svc.network_mode is None:
        for key in (list(svc.networks) or ["default"]):
            labels[network_label(key)] = "true"
    return labels
