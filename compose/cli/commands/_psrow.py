"""The fields of one ``ps`` row the way docker compose prints them: its ``--format json`` object
(every no-argument field of its container context, keys in alphabetical order, ``Publishers`` a
list of ``{URL, TargetPort, PublishedPort, Protocol}``) and the ``PORTS`` text built from the
same publishers (exposed ports alone, consecutive ones grouped into ranges, then the mappings)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from compose.orchestrator import labels as L

if TYPE_CHECKING:
    from compose.config.model import Project, Service


@dataclass(frozen=True, slots=True)
class Publisher:
    """One port of a container: exposed only (``published`` 0, no ``url``) or published."""

    target: int
    published: int = 0
    url: str = ""
    protocol: str = "tcp"

    def as_json(self) -> dict[str, Any]:
        return {"URL": self.url, "TargetPort": self.target, "PublishedPort": self.published,
                "Protocol": self.protocol}


def exposed_ports(svc: Service) -> list[tuple[int, str]]:
    """(port, protocol) of the service's ``expose`` entries and ``ports`` targets."""
    out: list[tuple[int, str]] = []
    for text in svc.expose:
        port, _, proto = str(text).partition("/")
        first, _, last = port.partition("-")
        if not first.isdigit() or (last and not last.isdigit()):
            continue
        out += [(p, proto or "tcp") for p in range(int(first), int(last or first) + 1)]
    out += [(p.target, p.protocol) for p in svc.ports]
    return out


def publishers(bindings: Iterable[Any], exposed: Iterable[tuple[int, str]]) -> list[Publisher]:
    """The container's ports: each binding (``host_ip``, ``host_port``, ``container_port``,
    ``protocol``), plus each exposed port that has none; sorted by container port."""
    out = [Publisher(b.container_port, b.host_port, b.host_ip or "0.0.0.0", b.protocol)
           for b in bindings]
    bound = {(p.target, p.protocol) for p in out}
    for port, proto in dict.fromkeys(exposed):
        if (port, proto) not in bound:
            out.append(Publisher(port, 0, "", proto))
    return sorted(out, key=lambda p: (p.target, p.url, p.published, p.protocol))


def ports_column(pubs: Sequence[Publisher]) -> str:
    """docker's PORTS text: ``80/tcp, 8000-8001/tcp, 0.0.0.0:9000->9000/tcp,
    127.0.0.1:8001->8000/tcp`` (same-port mappings grouped like exposed ports, then the
    others in order)."""
    groups: dict[tuple[str, str], list[list[int]]] = {}
    mappings: list[str] = []
    for p in sorted(pubs, key=lambda p: (p.target, p.url, p.published, p.protocol)):
        if p.url and p.published != p.target:
            mappings.append(f"{_host(p.url)}:{p.published}->{p.target}/{p.protocol}")
            continue
        runs = groups.setdefault((p.url, p.protocol), [])
        if runs and runs[-1][1] + 1 == p.target:
            runs[-1][1] = p.target
        else:
            runs.append([p.target, p.target])
    parts: list[str] = []
    for (url, proto), runs in groups.items():
        for first, last in runs:
            span = str(first) if first == last else f"{first}-{last}"
            parts.append(f"{_host(url)}:{span}->{span}/{proto}" if url else f"{span}/{proto}")
    return ", ".join(parts + mappings)


def _host(url: str) -> str:
    return f"[{url}]" if ":" in url else url


def ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def quoted_command(command: str, trunc: bool) -> str:
    """docker's COMMAND field: the command, cut to 20 characters unless ``--no-trunc``, in
    double quotes."""
    return json.dumps(ellipsis(command, 20) if trunc else command, ensure_ascii=False)


def mounts_of(spec_mounts: Iterable[dict[str, Any]], state_root: str) -> tuple[list[str], int]:
    """Mount names as docker lists them (a volume's name, else the source path; the engine's
    own /etc/hosts and resolv.conf files left out) and how many are local volumes."""
    names: list[str] = []
    local = 0
    for m in spec_mounts:
        kind, source = m.get("type"), str(m.get("source") or "")
        if kind == "volume":
            names.append(source.removesuffix("/_data").rsplit("/", 1)[-1])
            local += 1
        elif kind == "bind" and not source.startswith(f"{state_root}/projects/"):
            names.append(source)
    return names, local


def networks_of(project: Project | None, service: str) -> list[str]:
    """The engine names of the networks the service joins (none for ``network_mode``)."""
    if project is None or service not in project.services:
        return []
    svc = project.services[service]
    if svc.network_mode:
        return [svc.network_mode] if svc.network_mode in ("host", "none") else []
    keys = list(svc.networks) or ["default"]  # (no networks: key, the project's default)
    return [project.networks[n].name if n in project.networks else n for n in keys]


@dataclass(frozen=True, slots=True)
class RowFacts:
    """What the engine and supervisor know about one container beyond its ``ContainerRef``."""

    image: str
    status: str
    running_for: str
    created_at: str
    health: str
    pubs: tuple[Publisher, ...]
    mounts: tuple[str, ...]
    local_volumes: int
    networks: tuple[str, ...]
    restart_count: int


def json_row(c: Any, facts: RowFacts, trunc: bool) -> dict[str, Any]:
    """docker compose's ``ps --format json`` object for the container ``c`` (a ContainerRef).
    Health is only reported while running, the exit code only once exited (like docker)."""
    labels = dict(c.labels)
    running = c.state in ("running", "paused", "restarting")
    exited = c.state in ("exited", "dead")
    row: dict[str, Any] = {
        "Command": quoted_command(c.command, trunc),
        "CreatedAt": facts.created_at,
        "ExitCode": (c.exit_code or 0) if exited else 0,
        "Health": facts.health if running else "",
        "ID": c.id[:12] if trunc else c.id,
        "Image": facts.image,
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "LocalVolumes": str(facts.local_volumes),
        "Mounts": ",".join(ellipsis(m, 15) if trunc else m for m in facts.mounts),
        "Name": c.name,
        "Names": c.name,
        "Networks": ",".join(facts.networks),
        "Ports": ports_column(facts.pubs),
        "Project": labels.get(L.PROJECT, ""),
        "Publishers": [p.as_json() for p in facts.pubs],
        "RestartCount": facts.restart_count,
        "RunningFor": facts.running_for,
        "Service": labels.get(L.SERVICE, ""),
        "Size": "0B",
        "State": c.state,
        "Status": facts.status,
    }
    return row
