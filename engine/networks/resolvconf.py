"""Per-container /etc/resolv.conf and /etc/hosts (pure text builders plus a file write)."""
from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from pathlib import Path

from engine.networks.model import NetworkError
from engine.networks.upstream import resolv_conf_nameservers

EMBEDDED_DNS = "127.0.0.11"
HOST_RESOLV_CONF = Path("/etc/resolv.conf")
# What docker falls back to when the host only has loopback resolvers (unreachable from a
# container's namespace).
FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")


def host_search_and_options(text: str) -> tuple[list[str], list[str]]:
    search: list[str] = []
    options: list[str] = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] in ("search", "domain"):
            search = parts[1:]
        elif len(parts) >= 2 and parts[0] == "options":
            options += parts[1:]
    return search, options


def render_resolv_conf(*, dns: Sequence[str], dns_search: Sequence[str], dns_opt: Sequence[str],
                       use_embedded: bool, host_text: str, host_network: bool = False) -> str:
    """The text of a container's resolv.conf.

    Embedded (user-defined networks): ``nameserver 127.0.0.11`` and ``ndots:0`` like docker;
    otherwise the ``dns`` servers or the host's resolvers -- without loopback ones unless the
    container shares the host's network namespace (``network_mode: host``), where they work.
    """
    host_search, host_opts = host_search_and_options(host_text)
    search = list(dns_search) or host_search
    if use_embedded:
        servers = [EMBEDDED_DNS]
        options = ["ndots:0", *[o for o in dns_opt if not o.startswith("ndots:")]]
        if any(o.startswith("ndots:") for o in dns_opt):
            options = list(dns_opt)
    else:
        servers = list(dns) or [s for s in resolv_conf_nameservers(host_text)
                                if host_network or not _is_loopback(s)] or list(FALLBACK_DNS)
        options = list(dns_opt) or host_opts
    lines = [f"nameserver {s}" for s in servers]
    if search:
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(dict.fromkeys(options)))
    return "\n".join(lines) + "\n"


def _is_loopback(text: str) -> bool:
    try:
        return ipaddress.ip_address(text.split("%")[0]).is_loopback
    except ValueError:
        return False


def write_resolv_conf(path: Path, *, dns: Sequence[str] = (), dns_search: Sequence[str] = (),
                      dns_opt: Sequence[str] = (), use_embedded: bool,
                      host_network: bool = False) -> None:
    """Write a container's resolv.conf at ``path`` (``use_embedded`` when the container has an
    endpoint on a network; ``host_network`` for ``network_mode: host``)."""
    try:
        host_text = HOST_RESOLV_CONF.read_text()
    except OSError:
        host_text = ""
    path.write_text(render_resolv_conf(dns=dns, dns_search=dns_search, dns_opt=dns_opt,
                                       use_embedded=use_embedded, host_text=host_text,
                                       host_network=host_network))


def render_hosts(*, hostname: str, addresses: Sequence[str],
                 extra_hosts: Sequence[tuple[str, str]] = (),
                 host_gateway: str | None = None) -> str:
    """The text of a container's /etc/hosts: localhost, extra_hosts (name, ip), own names.

    An extra host whose ip is ``host-gateway`` gets ``host_gateway`` (the gateway of the
    container's primary network: the host as the container sees it).
    """
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback",
             "fe00::0\tip6-localnet", "ff00::0\tip6-mcastprefix", "ff02::1\tip6-allnodes",
             "ff02::2\tip6-allrouters"]
    for name, ip in extra_hosts:
        if ip == "host-gateway":
            if host_gateway is None:
                raise NetworkError(f"extra_hosts {name}: host-gateway needs a network",
                                   step="write hosts")
            ip = host_gateway
        lines.append(f"{ip}\t{name}")
    names = hostname if "." not in hostname else f"{hostname} {hostname.split('.')[0]}"
    lines += [f"{addr}\t{names}" for addr in addresses]
    return "\n".join(lines) + "\n"


def write_hosts(path: Path, *, hostname: str, addresses: Sequence[str],
                extra_hosts: Sequence[tuple[str, str]] = (),
                host_gateway: str | None = None) -> None:
    """Write a container's /etc/hosts at ``path``."""
    path.write_text(render_hosts(hostname=hostname, addresses=addresses, extra_hosts=extra_hosts,
                                 host_gateway=host_gateway))
