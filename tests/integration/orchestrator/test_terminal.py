"""``exec``, ``run`` and ``attach`` driven through a real pseudo-terminal, as a user types them:
output of typed commands, window size at the start and after a resize, ^C, exit codes, detach
keys, and the user's terminal settings identical before and after. Plus the paths without a
terminal: stdin piped into ``run -T``, signals proxied to ``exec -T``."""
from __future__ import annotations

import hashlib
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.orchestrator.conftest import IMAGE, SLEEPER, Stack
from tests.support.ptyterm import PtyTerm

pytestmark = pytest.mark.root

PROMPT = r"/ # "
COMPOSE = f"""
services:
  web:
    image: {IMAGE}
    command: ["sh", "-c", "{SLEEPER}"]
  console:
    image: {IMAGE}
    tty: true
    stdin_open: true
    command: ["sh"]
"""


def term(stack: Stack, *args: str, rows: int = 30, cols: int = 100) -> PtyTerm:
    return PtyTerm([sys.executable, "-m", "compose.cli.main", "-p", stack.name, *args],
                   env=stack.env(), cwd=str(stack.dir), rows=rows, cols=cols)


def up(stack: Stack) -> None:
    stack.write(COMPOSE)
    stack.run("up", "-d")


def check_shell(t: PtyTerm) -> None:
    """Type into the shell: output, window size (start and after a resize), ^C."""
    t.expect(PROMPT)
    t.type("echo $((6*7))-$(tty)\r")
    t.expect(r"42-/dev/pts/\d+")
    t.type("stty size\r")
    t.expect(r"30 100")
    t.resize(41, 132)
    time.sleep(0.3)  # SIGWINCH is delivered asynchronously
    t.type("stty size\r")
    t.expect(r"41 132")
    t.type("sleep 60\r")
    time.sleep(0.5)
    began = time.monotonic()
    t.type("\x03")
    t.expect(r"\^C")
    t.expect(PROMPT, timeout=5)
    assert time.monotonic() - began < 5  # interrupted, not the 60 s sleep
    t.type("echo status=$?\r")
    t.expect(r"status=130")


def test_exec_in_a_terminal(stack: Stack) -> None:
    up(stack)
    t = term(stack, "exec", "web", "sh")
    try:
        check_shell(t)
        t.type("exit 7\r")
        assert t.wait() == 7
        assert t.settings() == t.settings_before
    finally:
        t.close()


def test_run_it_in_a_terminal(stack: Stack) -> None:
    up(stack)
    t = term(stack, "run", "--rm", "web", "sh")
    try:
        check_shell(t)
        t.type("exit 3\r")
        assert t.wait() == 3
        assert t.settings() == t.settings_before
    finally:
        t.close()
    assert [ln for ln in stack.run("ps", "-a").stdout.splitlines() if "-run-" in ln] == []


def test_attach_and_detach_keys(stack: Stack) -> None:
    up(stack)
    t = term(stack, "attach", "console")
    try:
        # the prompt was printed before anyone attached, and busybox redraws its line on the
        # resize an attach brings (like under docker): a fresh line first, as a user would
        t.type("\r")
        t.expect(PROMPT)
        t.type("echo attached-$((1+1))\r")
        t.expect(r"attached-2")
        t.type("stty size\r")
        t.expect(r"30 100")  # the client sent its size
        t.type("\x10\x11")  # ctrl-p ctrl-q
        assert t.wait() == 1
        assert b"read escape sequence" in t.output
        assert t.settings() == t.settings_before
    finally:
        t.close()
    assert "console" in stack.run("ps", "--services", "--status", "running").stdout
    t = term(stack, "attach", "--detach-keys", "ctrl-x", "console", rows=20, cols=70)
    try:
        t.type("\r")
        t.expect(PROMPT)
        t.type("stty size\r")
        t.expect(r"20 70")
        t.type("\x18")  # ctrl-x
        assert t.wait() == 1
        assert t.settings() == t.settings_before
    finally:
        t.close()
    t = term(stack, "attach", "console")
    try:
        t.type("\r")  # busybox redraws its line on the resize an attach brings
        t.expect(PROMPT)
        t.type("exit 5\r")
        assert t.wait() == 5  # the container's exit code
        assert t.settings() == t.settings_before
    finally:
        t.close()


def test_terminal_restored_when_the_container_is_killed(stack: Stack) -> None:
    up(stack)
    t = term(stack, "exec", "web", "sh")
    try:
        t.expect(PROMPT)
        assert t.settings() != t.settings_before  # raw while the session runs
        stack.run("kill", "web")
        assert t.wait() != 0
        assert t.settings() == t.settings_before
    finally:
        t.close()


def test_terminal_restored_when_the_client_is_terminated(stack: Stack) -> None:
    up(stack)
    t = term(stack, "exec", "web", "sh")
    try:
        t.expect(PROMPT)
        t.proc.send_signal(signal.SIGTERM)
        assert t.wait() == 128 + signal.SIGTERM
        assert t.settings() == t.settings_before
    finally:
        t.close()


def test_run_pipes_stdin_without_a_terminal(stack: Stack) -> None:
    up(stack)
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "run",
                           "--rm", "-T", "web", "sh", "-c", "cat; echo err >&2; exit 4"],
                          input="hi\nthere\n", capture_output=True, text=True,
                          cwd=stack.dir, env=stack.env(), timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines()[-1:]) == (
        4, "hi\nthere\n", ["err"])
    proc = subprocess.run([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "run",
                           "--rm", "--no-tty", "web", "cat"], input="docker spelling\n",
                          capture_output=True, text=True, cwd=stack.dir, env=stack.env(),
                          timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "docker spelling\n")



def test_run_reads_stdin_from_a_file_or_dev_null(stack: Stack) -> None:
    up(stack)
    big = stack.dir / "big"
    big.write_bytes(b"0123456789abcdef" * (1 << 19))  # 8 MiB: more than any buffer on the way
    cli = [sys.executable, "-m", "compose.cli.main", "-p", stack.name, "run", "--rm", "-T"]
    with big.open("rb") as f:
        proc = subprocess.run([*cli, "web", "sh", "-c", "cat | md5sum"], stdin=f,
                              capture_output=True, cwd=stack.dir, env=stack.env(), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0].decode() == hashlib.md5(big.read_bytes()).hexdigest()
    with big.open("rb") as f:  # output as big as the input: relayed back while sending
        proc = subprocess.run([*cli, "web", "cat"], stdin=f, capture_output=True,
                              cwd=stack.dir, env=stack.env(), timeout=120)
    assert proc.returncode == 0 and proc.stdout == big.read_bytes()
    proc = subprocess.run([*cli, "web", "sh", "-c", "cat; echo end"], stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, cwd=stack.dir, env=stack.env(),
                          timeout=60)
    assert (proc.returncode, proc.stdout) == (0, "end\n")


def test_exec_without_a_terminal_proxies_sigint(stack: Stack) -> None:
    up(stack)
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name,
                             "exec", "-T", "web", "sh", "-c",
                             "trap 'echo got INT; exit 9' INT; echo ready; "
                             "sleep 60 >/dev/null & wait"],
                            stdout=subprocess.PIPE, text=True, cwd=stack.dir,
                            env=stack.env())
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=30)
    assert (proc.returncode, out) == (9, "got INT\n")


def test_exec_privileged_and_tty_flags(stack: Stack) -> None:
    up(stack)
    plain = stack.run("exec", "-T", "web", "grep", "CapBnd", "/proc/self/status").stdout
    full = stack.run("exec", "--privileged", "--no-tty", "web", "grep", "CapBnd",
                     "/proc/self/status").stdout
    assert int(full.split()[1], 16) > int(plain.split()[1], 16)
    assert int(full.split()[1], 16) & (1 << 21)  # CAP_SYS_ADMIN, not in docker's default set
    proc = stack.run("exec", "-t", "web", "true", check=False)  # stdin is not a terminal
    assert proc.returncode != 0 and "the input device is not a TTY" in proc.stderr
    proc = stack.run("run", "--rm", "--tty", "web", "true", check=False)  # docker's run words
    assert proc.returncode == 1 and "cannot attach stdin to a TTY-enabled container because " \
        "stdin is not a terminal" in proc.stderr, proc.stderr
    proc = stack.run("run", "--rm", "--no-tty=false", "web", "true", check=False)
    assert proc.returncode == 1 and "stdin is not a terminal" in proc.stderr, proc.stderr


def test_second_ctrl_c_kills_what_the_first_is_stopping(stack: Stack) -> None:
    stack.write(f"""
services:
  stubborn:
    image: {IMAGE}
    command: ["sh", "-c", "trap '' TERM; echo up; while :; do sleep 1; done"]
    stop_grace_period: 60s
""")
    proc = subprocess.Popen([sys.executable, "-m", "compose.cli.main", "-p", stack.name, "up"],
                            cwd=stack.dir, env=stack.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if "| up" in line:
            break
    proc.send_signal(signal.SIGINT)
    assert proc.stdout.readline() == "Gracefully stopping... (press Ctrl+C again to force)\n"
    time.sleep(1)
    began = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert time.monotonic() - began < 15  # killed, not the 60 s grace period
    assert "Exited (137)" in stack.run("ps", "-a").stdout


def test_attach_proxies_signals_unless_told_not_to(stack: Stack) -> None:
    stack.write(f"""
services:
  trapper:
    image: {IMAGE}
    command: ["sh", "-c", "trap 'echo got INT; exit 3' INT; while :; do sleep 0.2; done"]
""")
    stack.run("up", "-d")
    cli = [sys.executable, "-m", "compose.cli.main", "-p", stack.name, "attach", "--no-stdin"]
    quiet = subprocess.Popen([*cli, "--sig-proxy=false", "trapper"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, cwd=stack.dir,
                             env=stack.env())
    time.sleep(3)  # attached (nothing to read: the container printed before)
    quiet.send_signal(signal.SIGINT)
    quiet.communicate(timeout=30)
    assert quiet.returncode != 0 and quiet.returncode != 3  # the client left ...
    assert "trapper" in stack.run("ps", "--services", "--status", "running").stdout  # ...alone
    proxied = subprocess.Popen([*cli, "trapper"], stdout=subprocess.PIPE, text=True,
                               cwd=stack.dir, env=stack.env())
    time.sleep(3)
    proxied.send_signal(signal.SIGINT)
    out, _ = proxied.communicate(timeout=30)
    assert (proxied.returncode, out) == (3, "got INT\n")


def test_exec_detach_returns_while_the_command_runs(stack: Stack) -> None:
    up(stack)
    began = time.monotonic()
    stack.run("exec", "-d", "web", "sh", "-c", "sleep 3; touch /tmp/done")
    assert time.monotonic() - began < 3
    assert stack.run("exec", "-T", "web", "test", "-e", "/tmp/done", check=False).returncode
    time.sleep(4)
    assert stack.run("exec", "-T", "web", "test", "-e", "/tmp/done", check=False
                     ).returncode == 0
