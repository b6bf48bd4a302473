"""process.terminal with --console-socket: the pty master is handed over SCM_RIGHTS like runc."""
from __future__ import annotations

import json
import os
import socket

import pytest

from tests.integration.runtime.conftest import Env, wait

pytestmark = pytest.mark.root


def _read_all(fd: int) -> bytes:
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO once the slave side is closed
            break
        if not chunk:
            break
        out += chunk
    return out


def test_console_socket_receives_pty_master(env: Env) -> None:
    sock_path = env.tmp / "console.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(sock_path))
    server.listen(1)
    env.write(["sh", "-c", "tty; [ -c /dev/console ] && echo console-ok; "
                           "[ -t 0 ] && echo stdin-is-tty; echo $$; stty size"], terminal=True)
    config = json.loads((env.bundle / "config.json").read_text())
    config["process"]["consoleSize"] = {"height": 33, "width": 111}
    (env.bundle / "config.json").write_text(json.dumps(config))
    cid = env.new_id()
    pid = env.rt.create(cid, env.bundle, console_socket=sock_path)
    env.pids.append(pid)
    conn, _ = server.accept()
    _, fds, _, _ = socket.recv_fds(conn, 100, 1)
    conn.close()
    server.close()
    assert len(fds) == 1 and os.isatty(fds[0])
    env.rt.start(cid)
    out = _read_all(fds[0]).decode()
    os.close(fds[0])
    assert wait(pid) == 0
    env.rt.delete(cid)
    lines = out.replace("\r", "").splitlines()
    assert lines[0].startswith("/dev/pts/")
    assert "console-ok" in lines and "stdin-is-tty" in lines and "1" in lines
    assert "33 111" in lines  # process.consoleSize
