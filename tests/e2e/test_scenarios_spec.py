"""Scenarios for compose keys docker compose honours and pycompose now implements the same way:
``ipc: service:NAME``, ``logging.driver: none``, ``post_start``/``pre_stop`` hooks."""
from __future__ import annotations

import pytest

from tests.e2e.scenarios import IMAGE, SLEEPER, Scenario, scenario, wait_for

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def test_ipc_service_joins_that_services_namespace(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  joiner:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    ipc: service:owner
  owner:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    ipc: shareable
  alone:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    sc.up("-d")
    ns = {s: sc.sh(s, "readlink /proc/1/ns/ipc", check=True).stdout.strip()
          for s in ("joiner", "owner", "alone")}
    assert ns["joiner"] == ns["owner"] != ns["alone"], ns
    # the graph starts the owner first (an implicit dependency, as in docker compose)
    graph = sc.run("graph").stdout
    assert "owner" in graph and "joiner" in graph


def test_logging_driver_none_stores_nothing(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  quiet:
    image: {IMAGE}
    command: ["sh", "-c", "echo secret-output; {SLEEPER}"]
    logging:
      driver: none
  chatty:
    image: {IMAGE}
    command: ["sh", "-c", "echo chatty-output; {SLEEPER}"]
""")
    sc.up("-d")
    sc.run("exec", "-T", "chatty", "true")  # both started (exec waits for nothing else)
    wait_for(lambda: "chatty-output" in sc.run("logs", "chatty").stdout, 10, "chatty's line")
    out = sc.run("logs")
    # like docker compose: a warning for the unreadable one, the others' logs, exit 0
    assert out.returncode == 0
    assert "chatty-output" in out.stdout and "secret-output" not in out.stdout
    assert ('Can\'t retrieve logs for "' in out.stderr
            and "configured logging driver does not support reading" in out.stderr)
    cid = sc.engine("from engine import containers; "
                    "print([c.id for c in containers.list_containers() "
                    "if c.name.endswith('quiet-1')][0])").strip()
    stored = sc.engine(f"from engine.containers import paths; p = paths.log_file('{cid}'); "
                       "print(p.read_text() if p.exists() else '')")
    assert "secret-output" not in stored


def test_post_start_and_pre_stop_hooks_run_in_the_container(scenario: Scenario,
                                                            tmp_path) -> None:
    sc = scenario
    out = tmp_path / "out"
    out.mkdir()
    out.chmod(0o777)  # the hook writes as uid 1000
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes: ["{out}:/out"]
    post_start:
      - command: sh -c 'echo "started as $$(id -u) in $$(pwd) with $$GREETING" > /out/post'
        user: "1000"
        working_dir: /tmp
        environment:
          GREETING: hello
    pre_stop:
      - command: ["sh", "-c", "echo stopping > /out/pre"]
""")
    sc.up("-d")
    assert (out / "post").read_text() == "started as 1000 in /tmp with hello\n"
    assert not (out / "pre").exists()
    sc.run("stop")
    assert (out / "pre").read_text() == "stopping\n"
    (out / "post").unlink()
    sc.run("run", "-d", "web")  # a one-off container runs the post_start hooks too
    assert (out / "post").read_text() == "started as 1000 in /tmp with hello\n"


def test_a_failing_post_start_hook_fails_up(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    post_start:
      - command: ["sh", "-c", "echo not ready >&2; exit 3"]
""")
    up = sc.up("-d", check=False)
    assert up.returncode != 0
    assert "web hook exited with status 3: not ready" in up.stdout + up.stderr


def test_image_volume_mounts_an_image_read_only(scenario: Scenario) -> None:
    sc = scenario
    sc.write(f"""
services:
  assets:
    build:
      context: .
      dockerfile_inline: |
        FROM {IMAGE}
        RUN mkdir -p /payload/sub && echo hi > /payload/sub/f && echo gone > /payload/x
        RUN rm /payload/x && echo top > /payload/top
    command: ["sh", "-c", "{SLEEPER}"]
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes:
      - type: image
        source: assets
        target: /mnt/assets
        image:
          subpath: payload
""")
    sc.up("-d")
    got = sc.sh("web", "cat /mnt/assets/sub/f /mnt/assets/top; ls /mnt/assets; "
                "touch /mnt/assets/new 2>/dev/null && echo writable || echo read-only",
                check=True).stdout
    assert got.splitlines() == ["hi", "top", "sub", "top", "read-only"], got


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_network_mode_bridge_is_dockers_default_bridge(scenario: Scenario) -> None:
    from tests.e2e.test_scenarios_ports import HTTPD, http_get

    sc = scenario
    port = _free_port()
    sc.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{HTTPD}"]
    network_mode: bridge
    ports: ["127.0.0.1:{port}:80"]
  peer:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    network_mode: bridge
""")
    sc.up("-d")
    info = sc.engine("from engine import networks; n = networks.inspect_network('bridge'); "
                     "print(n.subnet4, n.gateway4, n.spec.labels)")
    subnet, gateway, _labels = info.split(" ", 2)
    assert "io.pycompose.default-bridge" in info
    web_ip = sc.sh("web", "ip -4 -o addr show eth0", check=True).stdout.split()[3]
    import ipaddress

    assert ipaddress.ip_interface(web_ip).ip in ipaddress.ip_network(subnet)
    addr = str(ipaddress.ip_interface(web_ip).ip)
    # peers reach each other by address, not by name (no embedded DNS, as on docker0)
    assert sc.sh("peer", f"wget -q -O - http://{addr}/", check=True).stdout == "published\n"
    assert sc.sh("peer", "nslookup web").returncode != 0
    resolv = sc.sh("peer", "cat /etc/resolv.conf", check=True).stdout
    assert "127.0.0.11" not in resolv
    assert http_get(f"http://127.0.0.1:{port}/") == "published\n"
    assert gateway
    sc.run("down")
    gone = sc.engine("from engine import networks; print(networks.network_exists('bridge'))")
    assert gone.strip() == "False"  # removed with its last container


def test_build_secret_reaches_run_and_no_layer(scenario: Scenario) -> None:
    sc = scenario
    (sc.dir / "token.txt").write_text("tok-from-file")
    sc.write(f"""
services:
  app:
    build:
      context: .
      dockerfile_inline: |
        FROM {IMAGE}
        RUN --mount=type=secret,id=api_token,required=true \\
            wc -c < /run/secrets/api_token > /token-length
      secrets:
        - source: token
          target: api_token
    command: ["sh", "-c", "{SLEEPER}"]
secrets:
  token:
    file: ./token.txt
""")
    sc.up("-d")
    out = sc.sh("app", "cat /token-length; ls /run/secrets 2>&1").stdout
    assert out.split()[0] == str(len("tok-from-file"))
    assert "No such file" in out  # not even the mount point is left in the image
    found = sc.engine(
        "from engine import images; img = images.resolve('" + sc.name + "-app'); "
        "print(any(b'tok-from-file' in p.read_bytes() for d in img.layer_dirs "
        "for p in d.rglob('*') if p.is_file() and not p.is_symlink()))")
    assert found.strip() == "False"
