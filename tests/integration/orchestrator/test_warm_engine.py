"""The warm engine process (compose/cli/warmserver.py) as a user meets it: commands run in a fork
of it with the caller's streams, directory, environment and exit code; signals reach them; a
killed client takes its command along; a killed engine takes nothing along; it goes away when
idle and soon after a ``down`` that left nothing running.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from engine import warm
from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack
from tests.support.leaks import kept_shim_server

pytestmark = [pytest.mark.root, pytest.mark.slow]

COMPOSE = f"""services:
  a:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
"""
ENGINE = b"compose.cli.warmserver"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_bytes()
    return int(stat.rsplit(b")", 1)[1].split()[1])


def engine_pid(root: Path) -> int | None:
    """The warm engine serving ``root``, if one runs."""
    want = ENGINE + b"\0" + str(root).encode() + b"\0"
    for pid in filter(str.isdigit, os.listdir("/proc")):
        if want in _cmdline(int(pid)):
            return int(pid)
    return None


def wait_for(what: str, check: object, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def warm_up(stack: Stack) -> int:
    """Run a command (which starts the engine) and wait until the engine has preloaded."""
    stack.run("ps")
    wait_for("the warm engine", lambda: engine_pid(stack.root) is not None)
    pid = engine_pid(stack.root)
    assert pid is not None
    wait_for("it to listen", lambda: Path(warm.address(str(stack.root))).exists(), within=30)
    wait_for("its preload", lambda: preload_status(stack.root)["preload"] == "done", within=60)
    return pid


def cli(stack: Stack, *args: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name, *args],
                            cwd=stack.dir, env=stack.env(), text=True, **kw)  # type: ignore[call-overload]


def zombies_of(parent: int) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent and fields[0] == b"Z":
            found.append(int(pid))
    return found


def children_of(parent: int, needle: bytes) -> list[int]:
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if _ppid(int(pid)) == parent and needle in _cmdline(int(pid)):
                found.append(int(pid))
        except (OSError, IndexError):
            continue
    return found


def test_a_command_runs_in_the_engine_with_the_callers_streams_place_and_environment(
        stack: Stack) -> None:
    stack.write(COMPOSE)
    engine = warm_up(stack)
    (stack.dir / "sub").mkdir()
    (stack.dir / "sub" / "other.yaml").write_text(COMPOSE.replace("a:", "b:"))
    proc = cli(stack, "-f", "sub/other.yaml", "config", "--services",
               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (0, "b\n"), err  # a path relative to the caller's cwd
    # stdin is the caller's: a compose file read from "-"
    proc = cli(stack, "-f", "-", "config", "--services", stdin=subprocess.PIPE,
               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate(COMPOSE.replace("a:", "fromstdin:"), timeout=30)
    assert (proc.returncode, out) == (0, "fromstdin\n"), err
    # the environment is the caller's, and so is the exit code of a failure (with its message)
    env = {**stack.env(), "COMPOSE_PROFILES": "x", "WARM_TEST_TAG": "v1"}
    (stack.dir / "tagged.yaml").write_text(COMPOSE.replace(IMAGE, "img:${WARM_TEST_TAG}"))
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-f", "tagged.yaml",
                           "config", "--images"], cwd=stack.dir, env=env, capture_output=True,
                          text=True, timeout=30)
    assert (proc.returncode, proc.stdout) == (0, "img:v1\n"), proc.stderr
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-f", "missing.yaml", "ps"],
                          cwd=stack.dir, env=stack.env(), capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode != 0 and "missing.yaml" in proc.stderr
    # and so is the time zone
    stack.run("up", "-d")
    env = {**stack.env(), "TZ": "Asia/Tokyo"}
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "ps",
                           "--format", "json"], cwd=stack.dir, env=env, capture_output=True,
                          text=True, timeout=30)
    assert "+0900 JST" in proc.stdout, proc.stdout + proc.stderr
    assert engine_pid(stack.root) == engine  # all of it served by the same engine
    # and the command really ran there: a child of the engine, under its own command line
    slow = cli(stack, "exec", "-T", "a", "sleep", "2", stdout=subprocess.DEVNULL)
    try:
        wait_for("the exec command in the engine", lambda: children_of(engine, b"exec\0-T"))
    finally:
        assert slow.wait(30) == 0


def test_signals_reach_the_command_and_a_killed_client_takes_it_along(stack: Stack) -> None:
    stack.write(COMPOSE.replace('"sh", "-c", "', '"sh", "-c", "echo hello; '))
    stack.run("up", "-d")
    engine = warm_up(stack)
    follow = cli(stack, "logs", "-f", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert follow.stdout is not None
    assert "hello" in follow.stdout.readline()  # following now
    command = children_of(engine, b"logs\0-f")[0]
    follow.send_signal(signal.SIGINT)  # Ctrl-C in a terminal
    warm_code = follow.wait(20)
    wait_for("the interrupted command to end", lambda: not Path(f"/proc/{command}").exists())
    # the same exit code as the same command run in-process
    env = {**stack.env(), "PYCOMPOSE_ENGINE_IDLE": "0"}
    cold = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "logs",
                             "-f"], cwd=stack.dir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert cold.stdout is not None
    assert "hello" in cold.stdout.readline()
    cold.send_signal(signal.SIGINT)
    assert cold.wait(20) == warm_code
    # SIGKILL of the client: the command does not outlive it (as a killed CLI would not)
    follow = cli(stack, "logs", "-f", stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for("logs -f in the engine", lambda: children_of(engine, b"logs\0-f"))
    command = children_of(engine, b"logs\0-f")[0]
    follow.kill()
    follow.wait(10)
    wait_for("the orphaned command to be killed", lambda: not Path(f"/proc/{command}").exists())


def test_killing_the_engine_stops_no_container_and_the_next_command_works(
        stack: Stack) -> None:
    stack.write(COMPOSE)
    engine = warm_up(stack)
    stack.run("up", "-d")
    # the daemons it forked (once) are in sessions of their own, show their own command
    # lines, and outlive it
    supervisor = int((stack.root / "run" / f"project-{stack.name}.pid").read_text().split()[0])
    assert b"compose.orchestrator.daemon" in _cmdline(supervisor)
    assert _ppid(supervisor) == engine and os.getsid(supervisor) == supervisor
    os.kill(engine, signal.SIGKILL)
    wait_for("the engine to die", lambda: engine_pid(stack.root) is None)
    wait_for("its daemon to be re-parented", lambda: _ppid(supervisor) != engine)
    assert b"compose.orchestrator.daemon" in _cmdline(supervisor)
    ps = stack.run("ps", "--format", "{{.Service}} {{.State}}")
    assert ps.stdout.split() == ["a", "running"]
    assert stack.run("exec", "-T", "a", "echo", "still here").stdout == "still here\n"
    wait_for("a new engine", lambda: engine_pid(stack.root) not in (None, engine))


def test_it_goes_soon_after_a_down_that_left_nothing_and_when_idle(stack: Stack) -> None:
    stack.write(COMPOSE)
    engine = warm_up(stack)
    stack.run("up", "-d")
    stack.run("down", "-t", "1")
    # the daemons down ended were its children: it reaped them at once (no zombie waits for
    # its exit, half a second later)
    wait_for("the engine to reap its daemons", lambda: not zombies_of(engine), within=0.3)
    wait_for("the engine to go after down", lambda: engine_pid(stack.root) is None, within=4)
    sock = Path(warm.address(str(stack.root)))
    assert not sock.exists()  # it takes its socket along
    # and the shim fork server it kept
    wait_for("its shim server to go", lambda: not kept_shim_server(stack.root), within=3)
    assert not (stack.root / "run" / "shimd.sock").exists()
    assert (sock.parent.stat().st_mode & 0o777) == 0o700  # which only root could reach
    env = {**stack.env(), "PYCOMPOSE_ENGINE_IDLE": "1"}
    subprocess.run([sys.executable, "-m", "compose.cli.main", "ps"], cwd=stack.dir, env=env,
                   check=True, capture_output=True, timeout=30)
    wait_for("an engine", lambda: engine_pid(stack.root) is not None)
    wait_for("the idle engine to go", lambda: engine_pid(stack.root) is None, within=5)


def test_no_engine_when_switched_off(stack: Stack) -> None:
    stack.write(COMPOSE)
    env = {**stack.env(), "PYCOMPOSE_ENGINE_IDLE": "0"}
    for _ in range(2):
        subprocess.run([sys.executable, "-m", "compose.cli.main", "ps"], cwd=stack.dir, env=env,
                       check=True, capture_output=True, timeout=30)
    time.sleep(0.5)
    assert engine_pid(stack.root) is None


def test_a_down_run_in_process_starts_no_engine(stack: Stack) -> None:
    stack.write(COMPOSE)
    assert engine_pid(stack.root) is None
    stack.run("down")  # no engine served it: it ran in-process
    time.sleep(0.5)
    assert engine_pid(stack.root) is None  # and left none behind to serve what is gone
    stack.run("ps")
    wait_for("an engine started by ps", lambda: engine_pid(stack.root) is not None)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_shims_come_from_the_engines_slim_shim_server(stack: Stack) -> None:
    """The engine keeps a shim fork server that is a fresh, small interpreter: every shim
    (and the runtime's processes per container) is forked from it, not from the engine's
    much larger memory. `down` leaves it to the engine; if it is stopped, the next command
    brings a new one, which holds none of that command's descriptors (the caller would wait
    for the end of its output until the server went)."""
    from engine.containers import shimd

    stack.write(COMPOSE)
    engine = warm_up(stack)
    wait_for("the kept shim server", lambda: kept_shim_server(stack.root))
    server = children_of(engine, b"engine-owned")
    assert len(server) == 1 and os.getsid(server[0]) == server[0]
    stack.run("up", "-d")
    shim_pids = children_of(server[0], b"")
    assert len(shim_pids) == 1  # the container's shim
    assert _rss_kb(server[0]) * 2 < _rss_kb(engine), (_rss_kb(server[0]), _rss_kb(engine))
    assert shimd.stop_server(stack.root, keep_engines=True) is False  # what down does
    assert children_of(engine, b"engine-owned") == server
    assert shimd.stop_server(stack.root) is True  # stopped for good: the engine reaps it
    wait_for("the engine to reap it", lambda: not zombies_of(engine), within=2)
    started = time.monotonic()
    assert stack.run("exec", "-T", "a", "true").returncode == 0  # the shim outlived it
    assert time.monotonic() - started < 2.5  # not held until the new server went
    wait_for("a new kept shim server", lambda: children_of(engine, b"engine-owned"))
    new = children_of(engine, b"engine-owned")[0]
    wait_for("it to listen", lambda: shimd.server_running(stack.root))
    pipes = {fd: os.readlink(f"/proc/{new}/fd/{fd}") for fd in os.listdir(f"/proc/{new}/fd")}
    assert [fd for fd, target in pipes.items() if target.startswith("pipe:")] == ["4"], pipes
    # a start while the engine's server is still starting waits for it (no second server)
    assert shimd.stop_server(stack.root) is True
    wait_for("the engine to reap it", lambda: not zombies_of(engine), within=2)
    stack.run("up", "-d", "--force-recreate")
    new = children_of(engine, b"engine-owned")[0]
    assert len(children_of(new, b"engine.containers.shim")) == 1
    assert children_of(engine, b"shimd") == [new]
    stack.run("down", "-t", "1")


def preload_status(root: Path) -> dict[str, Any]:
    sock = warm.connect(warm.address(str(root)), 5.0)
    assert sock is not None, "no warm engine answers"
    try:
        warm.send_request(sock, {"op": "status"}, [])
        status: dict[str, Any] = json.loads(warm.read_line(sock, bytearray()))
        return status
    finally:
        sock.close()


def test_a_first_up_has_its_daemons_forked_by_the_engine_it_starts(stack: Stack) -> None:
    # No engine answers the first command: it runs in-process and starts one. The project
    # supervisor, the DNS daemon and the shim fork server it needs are forks of that engine
    # (its children), not interpreters of their own (those were init's children, after their
    # double fork): each spared ~50 ms of CPU, on two cores beside the command. The shim
    # server is the one the engine keeps, so the `up` after a `down` finds it running.
    from engine.containers import shimd

    stack.write(COMPOSE)
    assert engine_pid(stack.root) is None
    assert stack.run("up", "-d").returncode == 0
    engine = engine_pid(stack.root)
    assert engine is not None
    for daemon in (b"compose.orchestrator.daemon", b"engine.networks.dnsd", b"engine-owned"):
        assert len(children_of(engine, daemon)) == 1, daemon
    server = children_of(engine, b"engine-owned")[0]
    assert os.getsid(server) == server
    pipes = [fd for fd in os.listdir(f"/proc/{server}/fd")
             if os.readlink(f"/proc/{server}/fd/{fd}").startswith("pipe:")]
    assert pipes == ["4"]  # its lifeline only: nothing of the engine's or the command's
    assert len(children_of(server, b"engine.containers.shim")) == 1
    ps = stack.run("ps", "--format", "{{.Service}} {{.State}}")
    assert ps.stdout.split() == ["a", "running"]
    stack.run("down", "-t", "1")
    assert shimd.server_running(stack.root)  # kept through the down, with the engine
    stack.run("up", "-d")
    assert children_of(engine, b"engine-owned") == [server]
    assert len(children_of(server, b"engine.containers.shim")) == 1
    stack.run("down", "-t", "1")


def test_the_preload_waits_for_the_command_that_started_the_engine(stack: Stack) -> None:
    # The first command runs in-process and starts the engine beside it; the engine's preload
    # (about a second of CPU) must not compete with it, yet a command arriving meanwhile is
    # served at once (by a fork that imports what it needs).
    stack.write(COMPOSE)
    up = cli(stack, "up", stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        wait_for("the engine to listen", lambda: Path(warm.address(str(stack.root))).exists())
        first = preload_status(stack.root)
        assert first["preload"] == "waiting"
        # what the up's supervisor and DNS daemon need is loaded meanwhile (not the preload)
        wait_for("the daemons' imports",
                 lambda: preload_status(stack.root)["for_daemons"] == "done")
        assert preload_status(stack.root)["preload"] == "waiting"
        ps = stack.run("ps", "-a", "--format", "{{.Service}}")
        assert ps.returncode == 0
        assert up.stdout is not None
        for line in up.stdout:  # the foreground up follows its container now
            if line.startswith("Attaching to"):
                break
    finally:
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=60) == 130
    wait_for("the preload", lambda: preload_status(stack.root)["preload"] == "done", within=60)
    assert preload_status(stack.root)["modules"] > first["modules"] + 300
    assert stack.run("ps", "-a", "--format", "{{.Service}} {{.State}}").stdout.split() == [
        "a", "exited"]
    stack.run("down", "-t", "1")


def test_an_engine_a_ps_started_loads_nothing_for_daemons_beside_it(stack: Stack) -> None:
    # Only a command that will have the engine fork a supervisor and a DNS daemon gets their
    # imports done beside it: a ps that starts the engine leaves the CPU to itself.
    stack.write(COMPOSE)
    assert engine_pid(stack.root) is None
    assert stack.run("ps").returncode == 0
    assert engine_pid(stack.root) is not None
    assert preload_status(stack.root)["for_daemons"] == "no"


def test_the_preload_goes_on_while_a_command_runs(stack: Stack) -> None:
    # Scripts run command after command: the preload must go on beside a running command,
    # not wait for a gap between commands (a version that paused it for each command's
    # first seconds left the engine half loaded through a series of up/down cycles: +18 % of
    # CPU per 50-service down).
    stack.write(COMPOSE)
    assert stack.run("ps").returncode == 0  # in-process: starts the engine, then ends
    wait_for("the engine to listen", lambda: Path(warm.address(str(stack.root))).exists())
    before = preload_status(stack.root)
    assert before["preload"] != "done"  # (about a second of CPU from the end of that ps)
    # a command that runs for 2 s: a paused preload gains nothing meanwhile, a running one
    # its ~300 modules (an `up -d` of ~0.2 s was too short for that on a busy machine)
    assert stack.run("run", "--rm", "-T", "a", "sleep", "2").returncode == 0
    assert preload_status(stack.root)["modules"] > before["modules"] + 300
    stack.run("down", "-t", "1")


# What an in-process `up` (the first command of a state root, or with no engine) must not load:
# typer (up is parsed by compose.cli.lean), pyroute2 (~100 modules, asyncio among them), the
# registry client with ssl, and the layer codecs; an image already in the store needs none.
# Nor OpenSSL through hashlib (~3 ms: names and tags hash with engine.digest), nor secrets.
COLD_UP_MUST_NOT_LOAD = ("typer", "click", "pyroute2", "asyncio", "ssl", "http", "zstandard",
                         "tarfile", "gzip", "engine.networks.netlink", "engine.images.registry",
                         "hashlib", "_hashlib", "secrets")


def test_an_in_process_up_loads_only_what_it_uses(stack: Stack) -> None:
    stack.write(COMPOSE)
    script = ("import json, sys; from compose.cli.main import main; code = main(sys.argv[1:]); "
              "print(json.dumps({'code': code, 'modules': sorted(n for n, m in "
              "sys.modules.items() if type(m).__name__ != '_LazyTyper')}))")  # (typer unused)
    env = {**stack.env(), "PYCOMPOSE_ENGINE_IDLE": "0"}
    out = subprocess.run([sys.executable, "-c", script, "-p", stack.name, "up", "-d"],
                         cwd=stack.dir, env=env, capture_output=True, text=True, timeout=60)
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["code"] == 0, out.stderr
    assert "engine.networks.network" in result["modules"]  # it made the network itself
    loaded = [m for m in result["modules"]
              if any(m == n or m.startswith(n + ".") for n in COLD_UP_MUST_NOT_LOAD)]
    assert loaded == []
    ps = stack.run("ps", "--format", "{{.Service}} {{.State}}")
    assert ps.stdout.split() == ["a", "running"]  # and the stack is up
    stack.run("down", "-t", "1")
