"""docker compose parity details through the CLI as root: run creates networks and volumes,
shared images are built once, progress lines while waiting on conditions, --wait failures."""
from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack


@pytest.mark.root
def test_run_creates_networks_and_volumes_of_a_fresh_project(stack: Stack) -> None:
    stack.write(f"""
services:
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo default"]
    volumes: [data:/data]
    networks: [back]
  other:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on: [job]
networks:
  back: {{}}
volumes:
  data: {{}}
""")
    proc = stack.run("run", "--rm", "--no-deps", "job", "sh", "-c",
                     "echo kept > /data/x; cat /data/x")
    assert proc.stdout == "kept\n"
    assert f"Network {stack.name}_back Created" in proc.stderr
    assert f"Volume {stack.name}_data Created" in proc.stderr
    again = stack.run("run", "--rm", "job", "cat", "/data/x")  # the volume persists
    assert again.stdout == "kept\n"
    assert "Created" not in again.stderr


@pytest.mark.root
def test_shared_image_built_once_and_interrupted_up_then_up_d_recreates_nothing(
        stack: Stack) -> None:
    (stack.dir / "app").mkdir()
    # not reproducible: two builds of this make two different images
    (stack.dir / "app" / "Dockerfile").write_text(
        f"FROM {IMAGE}\nRUN date +%s%N > /built\n")
    shared = f"""
    image: {stack.name}/shared:1
    build: ./app"""
    stack.write(f"""
services:
  a:{shared}
    command: ["sh", "-c", "echo a up; {SLEEPER}"]
  b:{shared}
    command: ["sh", "-c", "{SLEEPER}"]
  c:{shared}
    command: ["sh", "-c", "{SLEEPER}"]
""")
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "up"],
                            cwd=stack.dir, env=stack.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "a up" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert err.count("Built") == 1, err
    built = {stack.run("exec", "-T", s, "cat", "/built", check=False).stdout for s in "abc"}
    again = stack.run("up", "-d")
    assert "Recreate" not in again.stderr and "Built" not in again.stderr, again.stderr
    assert again.stderr.count("Started") == 3
    contents = {stack.run("exec", "-T", s, "cat", "/built").stdout for s in "abc"}
    assert len(contents) == 1 and built <= contents | {""}
    stack.run("down", "-t", "1", "--rmi", "all")


@pytest.mark.root
def test_waits_are_reported_and_wait_fails_on_an_exited_service(stack: Stack) -> None:
    stack.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 0.5; touch /tmp/ready; {SLEEPER}"]
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ready"]
      interval: 10s
      start_interval: 100ms
      start_period: 30s
  migrate:
    image: {IMAGE}
    command: ["true"]
    depends_on:
      db: {{condition: service_healthy}}
  api:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
  oneshot:
    image: {IMAGE}
    command: ["sh", "-c", "exit 0"]
""")
    up = stack.run("up", "-d", "--wait", "--wait-timeout", "30", check=False)
    db, migrate = f"{stack.name}-db-1", f"{stack.name}-migrate-1"
    lines = up.stderr.splitlines()
    for expected in (f" Container {db} Waiting ", f" Container {db} Healthy ",
                     f" Container {migrate} Waiting ", f" Container {migrate} Exited "):
        assert expected in lines, up.stderr
    assert lines.index(f" Container {db} Healthy ") < lines.index(
        f" Container {migrate} Started ")
    # --wait: oneshot exited (no one needs it completed) -> failure; migrate is fine
    assert up.returncode == 1
    assert "oneshot exited with code 0" in up.stderr
    assert "migrate" not in up.stderr.split(" Container")[-1]
    again = stack.run("up", "-d", "--wait", "api")  # api and its dependencies: all fine
    assert f" Container {stack.name}-api-1 Healthy " in again.stderr.splitlines()


@pytest.mark.root
def test_volumes_from_link_alias_and_container_network_mode(stack: Stack) -> None:
    app = f"{stack.name}-app-1"
    stack.write(f"""
services:
  data:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes: [shared:/shared, /anon]
  app:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    volumes_from: ["data:ro"]
    links: ["data:storage"]
  side:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    network_mode: "container:{app}"
    depends_on: [app]
volumes:
  shared: {{}}
""")
    stack.run("up", "-d")
    stack.run("exec", "-T", "data", "sh", "-c", "echo hi > /shared/f; echo a > /anon/f")
    assert stack.run("exec", "-T", "app", "cat", "/shared/f", "/anon/f").stdout == "hi\na\n"
    ro = stack.run("exec", "-T", "app", "touch", "/shared/g", check=False)
    assert ro.returncode != 0  # :ro
    # a few tries: the sandbox's DNS server may still be starting right after `up -d`
    found = stack.run("exec", "-T", "app", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do "
                      "nslookup storage 127.0.0.11 && exit 0; sleep 0.3; done; exit 1").stdout
    data_ip = stack.run("exec", "-T", "data", "hostname", "-i").stdout.split()[0]
    assert data_ip in found
    netns = {stack.run("exec", "-T", s, "readlink", "/proc/self/ns/net").stdout
             for s in ("app", "side")}
    assert len(netns) == 1  # side joined app's network namespace


@pytest.mark.root
def test_an_attached_up_shows_this_run_only_and_the_exit_after_its_output(stack: Stack) -> None:
    """docker attaches without the container's past logs: a third ``up`` of a one-shot
    prints its line once, and ``exited with code`` after it."""
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo hello"]
""")
    for _ in range(3):
        up = stack.run("--ansi", "never", "up")
    lines = up.stdout.splitlines()
    said = [ln for ln in lines if ln.endswith("| hello")]
    assert len(said) == 1, up.stdout
    assert lines.index(said[0]) < lines.index("app-1 exited with code 0"), up.stdout


@pytest.mark.root
def test_container_stderr_reaches_our_stderr_in_logs_and_up(stack: Stack) -> None:
    """docker compose's TestStdoutStderr: a container's stderr lines are written to stderr,
    its stdout lines to stdout, by an attached ``up`` and by ``logs``."""
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo to-out; echo to-err >&2"]
""")
    up = stack.run("--ansi", "never", "up")
    assert "to-out" in up.stdout and "to-err" not in up.stdout, up.stdout
    assert "app-1  | to-err" in up.stderr, up.stderr
    logs = stack.run("--ansi", "never", "logs")
    assert logs.stdout.strip() == "app-1  | to-out" and "app-1  | to-err" in logs.stderr
