"""The warm engine's wire format, address and bookkeeping (no engine process here: the
integration tests in tests/integration/orchestrator/test_warm_engine.py run the real one)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from compose.cli import warmclient, warmserver, warmwatch
from engine import proctitle, warm

REPO = Path(__file__).resolve().parents[3]


def test_a_request_and_its_descriptors_cross_a_socket() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    try:
        big = {"op": "run", "args": ["ps"], "env": {f"V{i}": "x" * 100 for i in range(2000)}}
        warm.send_request(a, big, [w])  # type: ignore[arg-type]
        got, fds = warm.recv_request(b)  # type: ignore[arg-type]
        assert got == big and len(fds) == 1
        os.write(fds[0], b"through")  # the received descriptor is the same pipe
        os.close(fds[0])
        assert os.read(r, 16) == b"through"
    finally:
        for fd in (r, w):
            os.close(fd)
        a.close()
        b.close()


def test_a_truncated_request_closes_what_it_received() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    r, w = os.pipe()
    try:
        a.sendmsg([(1000).to_bytes(4, "little") + b"short"],
                  [(socket.SOL_SOCKET, socket.SCM_RIGHTS, w.to_bytes(4, "little"))])
        a.close()
        before = set(os.listdir("/proc/self/fd"))
        with pytest.raises(ValueError, match="truncated"):
            warm.recv_request(b)  # type: ignore[arg-type]
        assert set(os.listdir("/proc/self/fd")) <= before
    finally:
        for fd in (r, w):
            os.close(fd)
        b.close()


def test_reply_lines_are_read_one_at_a_time() -> None:
    a, b = socket.socketpair()
    try:
        a.sendall(b"P12\nX3\n")
        buffer = bytearray()
        assert warm.read_line(b, buffer) == b"P12"  # type: ignore[arg-type]
        assert warm.read_line(b, buffer) == b"X3"  # type: ignore[arg-type]
        a.close()
        assert warm.read_line(b, buffer) == b""  # type: ignore[arg-type]
    finally:
        b.close()


def test_each_state_root_tree_and_interpreter_gets_its_own_engine(tmp_path: Path) -> None:
    one, two = warm.address(str(tmp_path / "a")), warm.address(str(tmp_path / "b"))
    assert one != two
    assert one.startswith(str(tmp_path / "a" / "run" / "engine-")) and one.endswith(".sock")
    assert warm.address(str(tmp_path / "a")) == one
    assert warm.lock_path(one).endswith(".lock")


def test_an_engine_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    addr = warm.address(str(tmp_path))
    Path(addr).parent.mkdir()
    listener.bind(addr)
    listener.listen(1)
    try:
        sock = warm.connect(addr, 1.0)
        assert sock is not None
        sock.close()
        monkeypatch.setattr(os, "geteuid", lambda: 4242)  # we are not who the listener is
        assert warm.connect(addr, 1.0) is None
    finally:
        listener.close()


def test_a_socket_path_longer_than_a_unix_address_works(tmp_path: Path) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    addr = warm.address(str(deep))
    assert len(addr) > 108
    Path(addr).parent.mkdir(parents=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        warm.on_path(listener.bind, addr)
        listener.listen(1)
        sock = warm.connect(addr, 1.0)
        assert sock is not None and Path(addr).exists()
        sock.close()
    finally:
        listener.close()


def test_no_engine_for_rootless_users_or_when_switched_off(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("PYCOMPOSE_ROOT", "/tmp/x")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert warmclient.state_root() == "/tmp/x"
    monkeypatch.setenv(warm.IDLE_ENV, "0")
    assert warmclient.state_root() is None
    monkeypatch.delenv(warm.IDLE_ENV)
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert warmclient.state_root() is None


@pytest.mark.parametrize(("command", "args", "tty", "expected"), [
    ("exec", ["exec", "web", "sh"], True, True),
    ("exec", ["exec", "-T", "web", "sh"], True, False),
    ("run", ["run", "-d", "web"], True, False),
    ("run", ["run", "web"], False, False),
    ("ps", ["ps"], True, False),
    ("attach", ["attach", "web"], True, True),
])
def test_commands_that_take_over_a_terminal_run_in_process(
        monkeypatch: pytest.MonkeyPatch, command: str, args: list[str], tty: bool,
        expected: bool) -> None:
    monkeypatch.setattr(os, "isatty", lambda fd: tty)
    assert warmclient.interactive(command, args) is expected


def test_a_changed_module_file_makes_the_engine_stale(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("x = 1\n")
    stamps = {str(module): module.stat().st_mtime_ns}
    assert not warmwatch.changed(stamps)
    os.utime(module, ns=(1, 1))
    assert warmwatch.changed(stamps)
    module.unlink()
    assert warmwatch.changed({str(module): 1})


def test_the_engine_watches_every_module_of_the_tree_loaded_or_not_yet() -> None:
    stamps = warmwatch.module_stamps(warm.tree())
    assert warmserver.__file__ in stamps and warm.__file__ in stamps
    tree = Path(warm.tree())
    # the preload may not have reached these yet when a file changes
    assert str(tree / "engine" / "networks" / "link.py") in stamps
    assert str(tree / "compose" / "orchestrator" / "up.py") in stamps
    assert all(p.startswith(warm.tree()) and p.endswith(".py") and "__pycache__" not in p
               for p in stamps)


def test_inotify_notices_an_edited_module_and_ignores_other_files(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    module = tmp_path / "pkg" / "sub" / "mod.py"
    module.write_text("x = 1\n")
    watch = warmwatch.TreeWatch(str(tmp_path), ("pkg",))
    try:
        assert watch.fileno() >= 0 and not watch.stale()
        (tmp_path / "pkg" / "sub" / "notes.txt").write_text("not code")
        (tmp_path / "pkg" / "sub" / "__pycache__").mkdir()
        assert not watch.stale()
        with module.open("a") as f:  # an edit in place
            f.write("y = 2\n")
        assert watch.stale()
    finally:
        watch.close()


def test_a_process_can_take_the_command_line_it_would_have_had() -> None:
    pid = os.fork()
    if pid == 0:  # in a child: the argument area of this test process is left alone
        ok = proctitle.set_cmdline(["/usr/bin/python3", "-m", "engine.networks.dnsd"])
        data = Path("/proc/self/cmdline").read_bytes()
        os._exit(0 if ok and data.startswith(b"/usr/bin/python3\0-m\0engine.networks.dnsd\0")
                 and data.strip(b"\0").count(b"\0") == 2 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0


def _serve_once_later(addr: str, ready_w: int, delay: float) -> threading.Thread:
    """An engine that takes ``delay`` to listen, says so on its ready pipe, then answers one
    request with ``ok``."""
    def engine() -> None:
        time.sleep(delay)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(addr)
            listener.listen(1)
            os.write(ready_w, b"ready")
            os.close(ready_w)
            conn, _ = listener.accept()
            with conn:
                request, fds = warm.recv_request(conn)
                assert request == {"op": "spawn"} and fds == []
                conn.sendall(b"ok\n")

    thread = threading.Thread(target=engine, daemon=True)
    thread.start()
    return thread


def test_a_command_waits_for_the_engine_it_started_before_asking_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    addr = str(tmp_path / "engine.sock")
    ready_r, ready_w = os.pipe()
    monkeypatch.setattr(warm, "server_address", None)
    monkeypatch.setattr(warm, "_starting", -1)
    warm.use_starting(addr, ready_r)
    engine = _serve_once_later(addr, ready_w, 0.3)
    assert warm.ask({"op": "spawn"}) == b"ok"  # not None: it waited for the engine to listen
    engine.join(5)
    assert warm._starting == -1
    with pytest.raises(OSError):
        os.fstat(ready_r)  # read once, then closed


def test_an_engine_that_gave_up_leaves_the_command_to_start_its_own_daemons(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ready_r, ready_w = os.pipe()
    monkeypatch.setattr(warm, "server_address", None)
    monkeypatch.setattr(warm, "_starting", -1)
    warm.use_starting(str(tmp_path / "nobody.sock"), ready_r)
    os.close(ready_w)  # the engine exited without listening (or another one won the race)
    start = time.monotonic()
    assert warm.spawn_python(["-m", "x"], {}, (0, 1, 2)) is False  # the caller falls back
    assert time.monotonic() - start < warm._START_WAIT
    assert warm._starting == -1


def test_the_daemons_imports_are_theirs_alone() -> None:
    """What an engine loads for the supervisor and the DNS daemon of the ``up`` that started
    it: their modules, the engine calls the supervisor makes, the firewall backend of the DNS
    redirect; not the resolver (loaded once a sandbox is served), the CLI or the orchestrator's
    ``up``, which would only make the daemons forked from it bigger."""
    code = ("import sys\nfrom compose.cli import warmpreload\n"
            "steps = list(warmpreload.for_daemons())\n"
            "print(' '.join(steps))\n"
            "print(' '.join(m for m in ('compose.orchestrator.daemon',"
            " 'engine.containers.lifecycle', 'engine.networks.dns_server', 'dns', 'typer',"
            " 'yaml', 'compose.orchestrator.up') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)})
    steps, loaded = out.stdout.splitlines()
    assert steps.split()[-1] == "firewall" and "supervisor" in steps
    assert loaded.split() == ["compose.orchestrator.daemon", "engine.containers.lifecycle",
                              "engine.networks.dns_server"]
