"""The shape of ``ps`` rows: docker compose's ``--format json`` object and PORTS column."""
from __future__ import annotations

import json

from compose.cli.commands._psrow import (
    Publisher,
    RowFacts,
    exposed_ports,
    json_row,
    mounts_of,
    ports_column,
    publishers,
)
from compose.config.model import PortConfig, Service
from compose.orchestrator.backend import ContainerRef
from engine.networks import PortBinding

DOCKER_PS_KEYS = ["Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels",
                  "LocalVolumes", "Mounts", "Name", "Names", "Networks", "Ports", "Project",
                  "Publishers", "RunningFor", "Service", "Size", "State", "Status"]


def _facts(pubs: tuple[Publisher, ...] = (), health: str = "") -> RowFacts:
    return RowFacts(image="busybox", status="Up 2 seconds", running_for="3 seconds ago",
                    created_at="2026-01-02 03:04:05 +0000 UTC", health=health, pubs=pubs,
                    mounts=("p_data", "/srv/a-rather-long-path"), local_volumes=1,
                    networks=("p_default",), restart_count=0)


def _ref(state: str = "running", exit_code: int | None = None) -> ContainerRef:
    return ContainerRef("a" * 64, "p-web-1", state,
                        {"com.docker.compose.project": "p", "com.docker.compose.service": "web"},
                        exit_code=exit_code, command="busybox httpd -f -p 8000 -h /www")


def test_exposed_and_published_ports_like_docker_ps() -> None:
    svc = Service(name="nginx", expose=("80", "443", "8080"))
    pubs = publishers([], exposed_ports(svc))
    assert [p.as_json() for p in pubs] == [
        {"URL": "", "TargetPort": t, "PublishedPort": 0, "Protocol": "tcp"}
        for t in (80, 443, 8080)]
    assert ports_column(pubs) == "80/tcp, 443/tcp, 8080/tcp"
    bound = publishers([PortBinding(8000, 8001, "127.0.0.1", "tcp")],
                       exposed_ports(Service(name="b", ports=(PortConfig(8000, "8001"),))))
    assert [p.as_json() for p in bound] == [
        {"URL": "127.0.0.1", "TargetPort": 8000, "PublishedPort": 8001, "Protocol": "tcp"}]
    assert ports_column(bound) == "127.0.0.1:8001->8000/tcp"


def test_ports_column_groups_ranges_and_lists_mappings_last() -> None:
    pubs = publishers([PortBinding(9000, 9000, "", "tcp"), PortBinding(9001, 9001, "", "tcp"),
                       PortBinding(80, 8080, "", "tcp")],
                      [(5000, "udp"), (5001, "udp"), (5003, "udp")])
    assert ports_column(pubs) == ("5000-5001/udp, 5003/udp, 0.0.0.0:9000-9001->9000-9001/tcp, "
                                  "0.0.0.0:8080->80/tcp")
    assert ports_column([Publisher(80, 8080, "::", "tcp")]) == "[::]:8080->80/tcp"


def test_expose_ranges_and_protocols() -> None:
    svc = Service(name="s", expose=("7000-7002/udp", "9/tcp"))
    assert exposed_ports(svc) == [(7000, "udp"), (7001, "udp"), (7002, "udp"), (9, "tcp")]


def test_json_row_has_docker_keys_in_order_and_truncates() -> None:
    pubs = (Publisher(80, 8080, "0.0.0.0", "tcp"),)
    row = json_row(_ref(), _facts(pubs, health="healthy"), trunc=True)
    assert [k for k in row if k != "RestartCount"] == DOCKER_PS_KEYS
    assert row["ID"] == "a" * 12
    assert row["Command"] == '"busybox httpd -f -p…"'
    assert row["Publishers"] == [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080,
                                  "Protocol": "tcp"}]
    assert row["Ports"] == "0.0.0.0:8080->80/tcp"
    assert (row["Health"], row["LocalVolumes"], row["Size"]) == ("healthy", "1", "0B")
    assert row["Mounts"] == "p_data,/srv/a-rather-…"  # 14 characters and the ellipsis
    assert row["Labels"] == "com.docker.compose.project=p,com.docker.compose.service=web"
    full = json_row(_ref(), _facts(), trunc=False)
    assert full["ID"] == "a" * 64 and full["Command"] == '"busybox httpd -f -p 8000 -h /www"'
    assert full["Publishers"] == []  # an empty list, never null or a string
    assert json.loads(json.dumps(full)) == full


def test_json_row_exit_code_only_when_exited_health_only_when_running() -> None:
    exited = json_row(_ref("exited", 3), _facts(health="unhealthy"), trunc=True)
    assert (exited["ExitCode"], exited["Health"]) == (3, "")
    running = json_row(_ref("running", 3), _facts(), trunc=True)
    assert running["ExitCode"] == 0


def test_mounts_names_volumes_and_skips_engine_files() -> None:
    spec = [{"type": "volume", "source": "/r/volumes/p_data/_data"},
            {"type": "bind", "source": "/home/u/src"},
            {"type": "bind", "source": "/r/projects/p/containers/p-web-1/hosts"},
            {"type": "tmpfs", "source": ""}]
    assert mounts_of(spec, "/r") == (["p_data", "/home/u/src"], 1)


def test_networks_column_names_the_default_network_too() -> None:
    """A service without ``networks:`` joins the project's default network: ps shows it."""
    from compose.cli.commands._psrow import networks_of
    from compose.config.model import Network, Project, ServiceNetwork

    project = Project("p", "/w", {
        "plain": Service("plain", image="x"),
        "named": Service("named", image="x", networks={"back": ServiceNetwork()}),
        "host": Service("host", image="x", network_mode="host"),
    }, networks={"default": Network("default", "p_default"), "back": Network("back", "p_back")})
    assert networks_of(project, "plain") == ["p_default"]
    assert networks_of(project, "named") == ["p_back"]
    assert networks_of(project, "host") == ["host"]
