"""Scenarios: published ports reached from the host on 127.0.0.1 — tcp (busybox httpd, fetched
with urllib), udp (an echo server; busybox has no udp listener, so the host's python runs in
the container from a read-only bind mount of /usr), and ``pycompose port``."""
from __future__ import annotations

import socket
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.examples import free_port
from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]

HTTPD = "mkdir -p /www; echo published > /www/index.html; httpd -p 80 -h /www; " + SLEEPER
# the host's python in a busybox container: its loader, libraries and stdlib under /host/usr
LIBDIR = "lib/x86_64-linux-gnu"  # Debian's multiarch layout (merged /usr)
LOADER = f"{LIBDIR}/ld-linux-x86-64.so.2"
HOST_PYTHON = f"bin/python{sys.version_info.major}.{sys.version_info.minor}"
PYTHON = [f"/host/usr/{LOADER}", "--library-path", f"/host/usr/{LIBDIR}",
          f"/host/usr/{HOST_PYTHON}", "-u", "/udpecho.py"]
UDP_ECHO = """\
import signal, socket, sys
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
print("listening", flush=True)
while True:
    data, peer = s.recvfrom(512)
    print("got " + data.decode(), flush=True)
    s.sendto(b"echo:" + data, peer)
"""


def http_get(url: str, tries: int = 20) -> str:
    """GET ``url``; retry briefly while the server inside is still starting."""
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"no answer from {url}")


def udp_ask(port: int, payload: bytes, tries: int = 20) -> bytes:
    """Send ``payload`` to 127.0.0.1:port and return the reply (resending on timeout)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        for _ in range(tries):
            s.sendto(payload, ("127.0.0.1", port))
            try:
                return s.recv(512)
            except TimeoutError:
                continue
    raise AssertionError(f"no udp reply from 127.0.0.1:{port}")


def test_published_tcp_ports_and_port_command(scenario: Scenario) -> None:
    sc = scenario
    fixed = free_port()
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{HTTPD}"]
    ports:
      - "127.0.0.1:{fixed}:80"
      - "8080"
    expose: ["7000"]
""")
    sc.up("-d", "--wait")
    assert http_get(f"http://127.0.0.1:{fixed}/") == "published\n"
    assert sc.run("port", "web", "80").stdout.strip() == f"127.0.0.1:{fixed}"
    # an ephemeral host port: `port` tells which one, and it answers
    host, _, eph = sc.run("port", "web", "8080").stdout.strip().rpartition(":")
    assert host == "0.0.0.0" and eph.isdigit() and int(eph) != fixed
    sc.sh("web", "httpd -p 8080 -h /www", check=True)
    assert http_get(f"http://127.0.0.1:{eph}/") == "published\n"
    (row,) = sc.ps()
    assert f"127.0.0.1:{fixed}->80/tcp" in str(row["Ports"])
    assert f"0.0.0.0:{eph}->8080/tcp" in str(row["Ports"])
    assert {"URL": "127.0.0.1", "TargetPort": 80, "PublishedPort": fixed,
            "Protocol": "tcp"} in row["Publishers"]  # type: ignore[operator]
    # like docker compose: an exposed port is listed unpublished, ports sorted by target
    assert [p["TargetPort"] for p in row["Publishers"]] == [80, 7000, 8080]  # type: ignore
    assert str(row["Ports"]).startswith("7000/tcp, ")
    assert sc.run("ps").stdout.splitlines()[1].endswith(str(row["Ports"]))
    unpublished = sc.run("port", "web", "81", check=False)
    assert unpublished.returncode != 0


def test_two_services_of_a_long_named_project_both_publish(scenario: Scenario) -> None:
    sc = scenario
    assert len(sc.name) >= 12
    one, two = free_port(), free_port()
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{HTTPD}"]
    ports: ["127.0.0.1:{one}:80"]
  api:
    image: {IMAGE}
    command: ["sh", "-c", "{HTTPD}"]
    ports: ["127.0.0.1:{two}:80"]
""")
    sc.up("-d", "--wait")
    assert http_get(f"http://127.0.0.1:{one}/", tries=10) == "published\n"
    assert http_get(f"http://127.0.0.1:{two}/", tries=10) == "published\n"


def test_published_udp_port_echoes(scenario: Scenario) -> None:
    sc = scenario
    if not all((Path("/usr") / p).exists() for p in (LOADER, HOST_PYTHON)):
        pytest.skip("needs the host's /usr/bin/python3.x and loader in Debian's layout")
    port = free_port()
    (sc.dir / "udpecho.py").write_text(UDP_ECHO)
    sc.write(f"""
services:
  echo:
    image: {IMAGE}
    command: {PYTHON}
    volumes:
      - /usr:/host/usr:ro
      - ./udpecho.py:/udpecho.py:ro
    ports:
      - "127.0.0.1:{port}:9999/udp"
""")
    sc.up("-d", "--wait")
    assert sc.run("port", "--protocol", "udp", "echo", "9999").stdout.strip() == \
        f"127.0.0.1:{port}"
    assert sc.run("port", "echo", "9999", check=False).returncode != 0  # not published tcp
    assert udp_ask(port, b"ping-1") == b"echo:ping-1"
    assert udp_ask(port, b"ping-2") == b"echo:ping-2"
    logs = sc.run("logs", "--no-log-prefix", "echo").stdout
    assert "got ping-1" in logs and "got ping-2" in logs  # the container itself received them
