"""Scenarios: where a container's environment comes from, as docker compose's env-priority
tests pin it — ``run -e KEY`` takes KEY from the shell, then ``--env-file``/``.env``, and
leaves the image's value alone when none has it; a bare ``environment: [KEY]`` that the shell
does not set unsets the image's ENV."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.e2e.scenarios import IMAGE, Scenario, scenario

__all__ = ["scenario"]
pytestmark = [pytest.mark.root, pytest.mark.slow]


def _run(sc: Scenario, *args: str, **env: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", sc.name, *args],
                          cwd=sc.dir, env={**sc.env(), **env}, capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_run_env_priority_and_unset_passthrough(scenario: Scenario) -> None:
    sc = scenario
    (sc.dir / "Dockerfile").write_text(
        f"FROM {IMAGE}\nENV WHEREAMI=Dockerfile EMPTY=not_empty\n"
        'CMD ["sh", "-c", "echo \\"$WHEREAMI=$EMPTY=\\""]\n')
    (sc.dir / ".env").write_text("WHEREAMI=Env File\n")
    (sc.dir / ".env.override").write_text("WHEREAMI=override\n")
    (sc.dir / ".env.empty").write_text("")
    sc.write("""
services:
  probe:
    build: .
    environment:
      - EMPTY
""")
    sc.run("build", "-q")
    run = ("run", "--rm", "-e", "WHEREAMI", "probe")
    assert _run(sc, *run, WHEREAMI="shell") == "shell==\n"  # the shell wins; EMPTY unset
    assert _run(sc, "--env-file", ".env.override", *run, WHEREAMI="shell") == "shell==\n"
    assert _run(sc, "--env-file", ".env.override", *run) == "override==\n"
    assert _run(sc, *run) == "Env File==\n"
    assert _run(sc, "--env-file", ".env.empty", *run) == "Dockerfile==\n"
    assert _run(sc, "run", "--rm", "-e", "WHEREAMI=explicit", "probe", EMPTY="x") == (
        "explicit=x=\n")


def _run_full(sc: Scenario, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", sc.name, *args],
                          cwd=sc.dir, env={**sc.env(), **env}, capture_output=True, text=True,
                          timeout=90)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_run_volumes_labels_and_one_off_orphans(scenario: Scenario) -> None:
    """After docker compose's TestComposeRun: an exited one-off is an orphan the next run
    warns about (COMPOSE_IGNORE_ORPHANS silences it, --remove-orphans removes it), and
    ``run -v``/``--volumes`` mounts a host path."""
    sc = scenario
    sc.write(f"""
services:
  back:
    image: {IMAGE}
    command: ["echo", "Hello there!!"]
    depends_on: [db]
  db:
    image: {IMAGE}
    init: true
    command: ["sleep", "300"]
volumes:
  data:
""")
    (sc.dir / "marker.txt").write_text("here\n")
    first = _run_full(sc, "run", "back")
    assert first.stdout == "Hello there!!\n" and "Found orphan" not in first.stderr
    sc.snapshot()
    again = _run_full(sc, "run", "back", "echo", "Hello one more time")
    assert again.stdout == "Hello one more time\n" and "Found orphan containers" in again.stderr
    quiet = _run_full(sc, "run", "back", "echo", "Hello again", COMPOSE_IGNORE_ORPHANS="True")
    assert "Found orphan" not in quiet.stderr
    listed = _run_full(sc, "run", "--rm", "--volumes", f"{sc.dir}:/foo", "back", "ls", "/foo",
                       COMPOSE_IGNORE_ORPHANS="True")
    assert "marker.txt" in listed.stdout.split()
    ro = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", sc.name, "run", "--rm",
                         "--no-deps", "-v", ".:/foo:ro", "back", "touch", "/foo/x"],
                        cwd=sc.dir, env=sc.env(), capture_output=True, text=True, timeout=90)
    assert ro.returncode == 1 and not (sc.dir / "x").exists()
    assert "Read-only file system" in ro.stderr, (ro.stdout, ro.stderr)
    named = _run_full(sc, "run", "--rm", "--no-deps", "-v", "data:/data", "--labels", "k=v",
                      "back", "sh", "-c", "echo kept > /data/f; cat /data/f")
    assert named.stdout == "kept\n"
    bad = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", sc.name, "run", "-v",
                          "nope:/x", "back", "true"], cwd=sc.dir, env=sc.env(),
                         capture_output=True, text=True, timeout=90)
    assert bad.returncode == 1 and "'nope' is not declared" in bad.stderr
    assert "Traceback" not in bad.stderr
    cleaned = _run_full(sc, "run", "--remove-orphans", "back", "echo", "done")
    assert cleaned.stderr.count("Removed") == 3  # the three exited one-offs kept so far
    states = sorted((str(r["Service"]), str(r["State"])) for r in sc.ps())
    assert states == [("back", "exited"), ("db", "running")]
    # COMPOSE_REMOVE_ORPHANS from the project's .env (docker exports COMPOSE_* from it)
    _run_full(sc, "run", "back", "true")
    (sc.dir / ".env").write_text("COMPOSE_REMOVE_ORPHANS=true\n")
    up = _run_full(sc, "up", "-d", "db")
    assert "Found orphan" not in up.stderr and up.stderr.count("Removed") == 2
    assert [r["Service"] for r in sc.ps()] == ["db"]


def test_exec_env_and_one_off_target(scenario: Scenario) -> None:
    """After docker compose's exec tests: ``exec -e KEY`` takes KEY from the shell or leaves
    it unset; with only a ``run -d`` one-off running, exec reaches it, but ``--index 1`` does
    not (a one-off is no replica)."""
    sc = scenario
    sc.write(f"""
services:
  simple:
    image: {IMAGE}
    init: true
    command: ["sleep", "300"]
""")
    oneoff = _run_full(sc, "run", "-d", "simple", "sleep", "300").stdout.strip()
    sc.snapshot()
    assert _run(sc, "exec", "simple", "hostname") == _run(
        sc, "ps", "-a", "--format", "{{.ID}}").strip() + "\n"
    assert "FOO=" not in _run(sc, "exec", "-e", "FOO", "simple", "env")
    assert "FOO=BAR\n" in _run(sc, "exec", "-e", "FOO", "simple", "env", FOO="BAR")
    indexed = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", sc.name, "exec",
                              "--index", "1", "simple", "true"], cwd=sc.dir, env=sc.env(),
                             capture_output=True, text=True, timeout=90)
    assert indexed.returncode == 1
    assert 'service "simple" is not running container #1' in indexed.stderr
    sc.up("-d")
    names = _run(sc, "ps", "-a", "--format", "{{.Name}}").split()
    assert names == sorted([f"{sc.name}-simple-1", oneoff])  # by name, like docker
    assert _run(sc, "ps", "--format", "{{.Name}}").split() == [f"{sc.name}-simple-1"]
    replica = _run(sc, "ps", "--format", "{{.Name}} {{.ID}}").split()
    assert _run(sc, "exec", "simple", "hostname").strip() == replica[replica.index(
        f"{sc.name}-simple-1") + 1]
