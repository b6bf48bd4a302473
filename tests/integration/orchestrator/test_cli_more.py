"""Volumes, restart policies and Ctrl-C of a foreground ``up``, through the CLI as root."""
from __future__ import annotations

import json
import re
import signal
import subprocess
import sys

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack


def _engine(stack: Stack, code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], env=stack.env(), capture_output=True,
                          text=True, check=True).stdout


@pytest.mark.root
def test_volumes_copy_up_and_down_v_spares_external(stack: Stack) -> None:
    ext = f"{stack.name}-ext"
    _engine(stack, f"from engine import volumes; volumes.create_volume({ext!r})")
    stack.write(f"""
services:
  app:
    image: {IMAGE}
    command: ["sh", "-c", "echo kept > /data/x; echo ext > /ext/y; {SLEEPER}"]
    volumes:
      - seeded:/etc
      - data:/data
      - ext:/ext
      - type: tmpfs
        target: /scratch
volumes:
  seeded:
  data:
  ext:
    external: true
    name: {ext}
""")
    up = stack.run("up", "-d", "--wait")
    assert f"Volume {stack.name}_data Created" in up.stderr
    # a new named volume is first filled from the image's content at its mount path
    passwd = stack.run("exec", "-T", "app", "cat", "/etc/passwd").stdout
    assert passwd.startswith("root:x:0:0:")
    mounts = stack.run("exec", "-T", "app", "cat", "/proc/mounts").stdout
    assert " /scratch tmpfs " in mounts
    stack.run("down", "-t", "1")  # without -v volumes stay, data with them
    listed = _engine(stack, "from engine import volumes; "
                     "print(' '.join(v.name for v in volumes.list_volumes()))").split()
    assert {f"{stack.name}_data", f"{stack.name}_seeded", ext} <= set(listed)
    stack.run("up", "-d", "--wait")
    assert stack.run("exec", "-T", "app", "cat", "/data/x").stdout == "kept\n"
    stack.run("down", "-v", "-t", "1")
    listed = _engine(stack, "from engine import volumes; "
                     "print(' '.join(v.name for v in volumes.list_volumes()))").split()
    assert listed == [ext]  # external volumes are never removed
    _engine(stack, f"from engine import volumes; volumes.remove_volume({ext!r})")


@pytest.mark.root
def test_on_failure_restarts_are_counted(stack: Stack) -> None:
    stack.write(f"""
services:
  flaky:
    image: {IMAGE}
    command: ["sh", "-c", "echo try; exit 3"]
    restart: on-failure:2
""")
    events = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name,
                               "events", "--json"], cwd=stack.dir, env=stack.env(),
                              stdout=subprocess.PIPE, text=True)
    try:
        stack.run("up", "-d")
        deaths = 0
        assert events.stdout is not None
        for line in events.stdout:  # event-driven: 1 run + 2 restarts = 3 exits
            if json.loads(line)["action"] == "die":
                deaths += 1
                if deaths == 3:
                    break
    finally:
        events.terminate()
        events.wait(10)
    row = json.loads(stack.run("ps", "-a", "--format", "json").stdout.splitlines()[0])
    assert row["State"] == "exited" and row["ExitCode"] == 3
    assert row["RestartCount"] == 2
    assert stack.run("logs", "--no-log-prefix").stdout.count("try") == 3


@pytest.mark.root
def test_sigint_stops_foreground_up(stack: Stack) -> None:
    stack.write(f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo web up; {SLEEPER}"]
""")
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "up"],
                            cwd=stack.dir, env=stack.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "web up" in line:
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "Gracefully stopping..." in out
    assert f"Container {stack.name}-web-1 Stopped" in err
    assert stack.run("ps").stdout.splitlines()[1:] == []


@pytest.mark.root
def test_secrets_configs_and_dns_by_service_name(stack: Stack) -> None:
    (stack.dir / "token.txt").write_text("s3cret\n")
    (stack.dir / ".env").write_text("API_KEY=from-dotenv\n")  # docker: the project env
    stack.write(f"""
services:
  api:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on: [api]
    secrets:
      - token
      - key
    configs:
      - source: motd
        target: /etc/motd
        mode: 0440
secrets:
  token:
    file: ./token.txt
  key:
    environment: API_KEY
configs:
  motd:
    content: hello from config
""")
    stack.run("up", "-d", "--wait")
    assert stack.run("exec", "-T", "web", "cat", "/run/secrets/token").stdout == "s3cret\n"
    assert stack.run("exec", "-T", "web", "cat", "/run/secrets/key").stdout == "from-dotenv"
    # docker sets HOSTNAME to the container's hostname (its short id by default)
    host = stack.run("exec", "-T", "web", "hostname").stdout.strip()
    assert stack.run("exec", "-T", "web", "sh", "-c", "echo $HOSTNAME").stdout.strip() == host
    out = stack.run("exec", "-T", "web", "stat", "-c", "%a %n", "/etc/motd").stdout
    assert out.strip() == "440 /etc/motd"
    assert stack.run("exec", "-T", "web", "cat", "/etc/motd").stdout == "hello from config"
    api_ip = stack.run("exec", "-T", "api", "hostname", "-i").stdout.split()[0]
    ans = stack.run("exec", "-T", "web", "nslookup", "api", check=False)
    assert ans.returncode == 0, ans.stdout + ans.stderr
    assert f"Address: {api_ip}" in ans.stdout  # the embedded DNS answers by service name


@pytest.mark.root
def test_down_cleans_after_sigkill_mid_up(stack: Stack) -> None:
    stack.write(f"""
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "sleep 30"]
    healthcheck:
      test: ["CMD", "false"]
      interval: 1s
      retries: 100
  api:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
    depends_on:
      db: {{condition: service_healthy}}
""")
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "up",
                             "-d"], cwd=stack.dir, env=stack.env(), stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # the CLI is waiting for db to turn healthy: kill it there
        if f"{stack.name}-db-1 Started" in line:
            break
    proc.kill()
    proc.wait(10)
    ps = stack.run("ps", "-a", "--format", "json").stdout.splitlines()
    assert [json.loads(r)["Service"] for r in ps] == ["db"]
    down = stack.run("down", "-v", "-t", "1")
    assert f"Container {stack.name}-db-1 Removed" in down.stderr


@pytest.mark.root
def test_run_one_off_with_deps_and_rm(stack: Stack) -> None:
    stack.write(f"""
services:
  api:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  job:
    image: {IMAGE}
    command: ["sh", "-c", "echo default"]
    depends_on: [api]
""")
    proc = stack.run("run", "--rm", "-e", "FOO=bar", "job", "sh", "-c", "echo $FOO; exit 5",
                     check=False)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == "bar\n"
    rows = [json.loads(r) for r in stack.run("ps", "--format", "json").stdout.splitlines()]
    assert [r["Service"] for r in rows] == ["api"]  # the dependency was started
    names = _engine(stack, "from engine import containers; "
                    "print(' '.join(c.name for c in containers.list_containers()))").split()
    assert names == [f"{stack.name}-api-1"]  # --rm removed the one-off container


@pytest.mark.root
def test_build_scale_and_remove_orphans(stack: Stack) -> None:
    (stack.dir / "app").mkdir()
    (stack.dir / "app" / "Dockerfile").write_text(
        f"FROM {IMAGE}\nRUN echo built > /built\nCMD [\"sh\", \"-c\", \"{SLEEPER}\"]\n")
    stack.write("""
services:
  web:
    build: ./app
  old:
    build: ./app
""")
    up = stack.run("up", "-d", "--scale", "web=3")
    assert "Built" in up.stderr
    assert stack.run("exec", "-T", "--index", "3", "web", "cat", "/built").stdout == "built\n"
    names = sorted(json.loads(r)["Name"] for r in stack.run(
        "ps", "--format", "json").stdout.splitlines())
    assert names == [f"{stack.name}-old-1"] + [f"{stack.name}-web-{i}" for i in (1, 2, 3)]
    stack.write("""
services:
  web:
    build: ./app
""")
    down_scale = stack.run("up", "-d", "--remove-orphans")  # scale back to 1, drop `old`
    removed = set(re.findall(r"Container (\S+)\s+Removed", down_scale.stderr))
    assert removed == {f"{stack.name}-old-1", f"{stack.name}-web-2", f"{stack.name}-web-3"}
    names = [json.loads(r)["Name"] for r in stack.run("ps", "--format", "json"
                                                      ).stdout.splitlines()]
    assert names == [f"{stack.name}-web-1"]
    stack.run("down", "-t", "1", "--rmi", "local")
    images = _engine(stack, "from engine import images; "
                     "print(' '.join(t for i in images.list_images() for t in i.repo_tags))")
    assert f"{stack.name}-web" not in images


@pytest.mark.root
def test_foreground_up_stays_attached_across_restarts(stack: Stack) -> None:
    stack.write(f"""
services:
  flaky:
    image: {IMAGE}
    command: ["sh", "-c", "echo try; exit 3"]
    restart: on-failure:1
""")
    proc = stack.run("up", check=False, timeout=60)
    assert proc.stdout.count("flaky-1  | try") == 2, proc.stdout  # the restart's log too
    assert proc.stdout.count("flaky-1 exited with code 3") == 2
    assert proc.returncode == 0
