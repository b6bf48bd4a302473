"""The warm engine process: its address, its wire format, and spawning through it.

A warm engine is one long-lived interpreter per state root (and per installed tree) that has
already imported the whole CLI and engine; it forks a child per command (the CLI is then a thin
client, :mod:`compose.cli.warmclient`) and forks the engine's helper daemons (project
supervisor, DNS daemon, shim fork server) on request, so none of them pays interpreter start-up
and imports. The server itself lives in :mod:`compose.cli.warmserver`; this module holds what
both sides and the engine need, and imports nothing heavy (the thin client loads it).

Wire format: one request per connection, ``len(4 bytes) + marshal(dict)``, with the file
descriptors it hands over (stdio, pipes) attached as ``SCM_RIGHTS`` to the first bytes.
Replies are short ASCII lines. The socket lives in the state root's ``run/`` (mode 0700), and
both ends also check the other's uid (``SO_PEERCRED``).
"""
from __future__ import annotations

import _socket
import _thread
import marshal
import os
import sys

IDLE_ENV = "PYCOMPOSE_ENGINE_IDLE"  # seconds without a request before it exits; 0: never used
DEFAULT_IDLE = 300.0  # while a project of the state root runs
QUIET_IDLE = 5.0  # while none does (at most IDLE_ENV)
LINGER_EMPTY = 0.5  # seconds it stays once a `down` left nothing running in the state root
READY_FD = 3  # where an engine started by a command finds its ready pipe (see warmserver)
_INT = 4
_MAX_FDS = 16
_MAX_UNIX_PATH = 107

# Set in a command forked by the warm engine: its address (daemons are then forked by it).
# Also set in a command that found no engine and started one (:func:`use_starting`).
server_address: str | None = None
# In such a command: the read end of the starting engine's ready pipe, until it has been read.
_starting = -1
_starting_lock = _thread.allocate_lock()
_START_WAIT = 2.0  # seconds: the longest a command waits for the engine it started to listen
# Set in such a command when the engine it started was told that it starts containers: that
# engine starts the shim fork server it keeps first thing (nobody need ask it while it is busy
# preparing the command's daemons).
starting_keeps_shims = False
# Set in a command forked by the warm engine: the pid of the shim fork server the engine keeps
# (engine.containers.shimd.spawn_for_engine), which may still be starting.
kept_shim_server: int | None = None
# Set in a daemon the warm engine forked: it is detached already (its own session; the engine
# reaps it), so its entry point must not fork again to detach.
detached = False


def idle_seconds() -> float:
    """The configured idle timeout (0 or less: no warm engine)."""
    try:
        return float(os.environ.get(IDLE_ENV, DEFAULT_IDLE))
    except ValueError:
        return DEFAULT_IDLE


def tree() -> str:
    """The installed tree this interpreter runs (the directory holding ``engine/``)."""
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def address(root: str) -> str:
    """The socket of the warm engine for state root ``root`` running this tree with this
    environment (another checkout or venv gets its own engine): a file in the state root's
    ``run/`` (mode 0700), never an abstract socket, which a container sharing the host's network
    namespace could reach."""
    key = f"{os.path.abspath(root)}\0{tree()}\0{sys.prefix}".encode()  # venv, not python/3
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover - an interpreter built without it
        from hashlib import blake2b
    name = "engine-" + blake2b(key, digest_size=8).hexdigest()
    return os.path.join(os.path.abspath(root), "run", name + ".sock")


def lock_path(addr: str) -> str:
    """The lock the engine serving ``addr`` holds for its whole life."""
    return addr[:-len(".sock")] + ".lock"


def on_path(method: object, path: str) -> None:
    """``method(path)`` (a socket's bind or connect), through ``/proc/self/fd/N/<name>`` of the
    directory when the path is longer than a unix address may be."""
    if len(os.fsencode(path)) <= _MAX_UNIX_PATH:
        method(path)  # type: ignore[operator]
        return
    fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        method(f"/proc/self/fd/{fd}/{os.path.basename(path)}")  # type: ignore[operator]
    finally:
        os.close(fd)


def peer_uid(sock: _socket.socket) -> int:
    """The uid of the process at the other end of a connected unix socket."""
    creds = sock.getsockopt(_socket.SOL_SOCKET, _socket.SO_PEERCRED, 3 * _INT)
    return int.from_bytes(creds[_INT:2 * _INT], sys.byteorder)


def connect(addr: str, timeout: float) -> _socket.socket | None:
    """A connection to the engine at ``addr`` run by our own uid, or None."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM | _socket.SOCK_CLOEXEC)
    sock.settimeout(timeout)
    try:
        on_path(sock.connect, addr)
        if peer_uid(sock) != os.geteuid():
            raise ConnectionRefusedError("the engine address is held by another user")
    except OSError:
        sock.close()
        return None
    return sock


def send_request(sock: _socket.socket, request: dict[str, object], fds: list[int]) -> None:
    """Send one request with ``fds`` attached."""
    body = marshal.dumps(request)
    data = len(body).to_bytes(_INT, sys.byteorder) + body
    rights = b"".join(fd.to_bytes(_INT, sys.byteorder, signed=True) for fd in fds)
    sent = sock.sendmsg([data], [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, rights)] if fds else [])
    if sent < len(data):
        sock.sendall(data[sent:])


def recv_request(sock: _socket.socket) -> tuple[dict[str, object], list[int]]:
    """Receive one request and the descriptors attached to it (the caller owns them)."""
    space = _socket.CMSG_SPACE(_MAX_FDS * _INT)
    # close-on-exec: a process the engine spawns meanwhile must not hold a caller's pipes
    head, ancillary, _, _ = sock.recvmsg(_INT, space, _socket.MSG_CMSG_CLOEXEC)
    fds: list[int] = []
    for level, kind, data in ancillary:
        if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
            usable = len(data) - len(data) % _INT
            fds += [int.from_bytes(data[i:i + _INT], sys.byteorder, signed=True)
                    for i in range(0, usable, _INT)]
    try:
        if len(head) < _INT:
            raise ValueError("short request")
        size = int.from_bytes(head, sys.byteorder)
        body = b""
        while len(body) < size:
            chunk = sock.recv(size - len(body))
            if not chunk:
                raise ValueError("truncated request")
            body += chunk
        request = marshal.loads(body)
        if not isinstance(request, dict):
            raise ValueError("malformed request")
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return request, fds


def read_line(sock: _socket.socket, buffer: bytearray) -> bytes:
    """The next reply line (without its newline); b"" when the engine closed the
    connection."""
    while b"\n" not in buffer:
        chunk = sock.recv(4096)
        if not chunk:
            return b""
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


# -- used by the engine in a command the warm engine forked ----------------------------------

def use_starting(addr: str, ready_fd: int, keeps_shims: bool = False) -> None:
    """This command (run in-process: no engine answered) has just started the engine at
    ``addr``, which writes to ``ready_fd``'s pipe once it listens: the daemons the command
    starts are forked by that engine too (:func:`spawn_python`), which spares each one an
    interpreter start-up and the imports the engine has made; the first request waits for it
    to listen. ``keeps_shims``: see :data:`starting_keeps_shims`."""
    global server_address, _starting, starting_keeps_shims
    server_address, _starting, starting_keeps_shims = addr, ready_fd, keeps_shims


def _await_starting() -> None:
    """Wait (once, for every thread) until the engine this command started listens, or has
    given up: its ready pipe says ``ready`` or ends (another engine won the race for the state
    root, or it failed: the connection then reaches that other one, or nothing)."""
    global _starting
    if _starting < 0:
        return
    from engine.fdwait import readable

    with _starting_lock:
        if _starting < 0:
            return
        try:
            if readable([_starting], _START_WAIT):
                os.read(_starting, 16)
        except OSError:
            pass
        finally:
            os.close(_starting)
            _starting = -1


def ask(request: dict[str, object], fds: list[int] | None = None,
        timeout: float = 5.0) -> bytes | None:
    """Send ``request`` to the warm engine that forked this command (or that it started) and
    return its reply line; None when there is none, or it is gone."""
    if server_address is None:
        return None
    _await_starting()
    sock = connect(server_address, timeout)
    if sock is None:
        return None
    try:
        send_request(sock, request, fds or [])
        return read_line(sock, bytearray())
    except OSError:
        return None
    finally:
        sock.close()


def tell(request: dict[str, object], address: str | None = None) -> None:
    """Send ``request`` to the warm engine (by default the one that forked this command)
    without waiting for it: it reads the request when it next looks (a reply-less request)."""
    address = address or server_address
    if address is None:
        return
    sock = connect(address, 0.5)
    if sock is None:
        return
    try:
        send_request(sock, request, [])
    except OSError:
        pass
    finally:
        sock.close()


def spawn_python(argv: list[str], env: dict[str, str], stdio: tuple[int, int, int],
                 pass_fds: tuple[int, ...] = ()) -> bool:
    """Run ``python <argv>`` (``-m module ...`` or ``[-S] -c code ...``) detached, in a new
    session, as a fork of the warm engine, with ``stdio`` as its fds 0-2 and ``pass_fds`` at
    the same numbers; returns once the launched process has been started (it is not waited
    for). False when this command was neither forked by a warm engine nor started one (or it
    is gone): the caller then starts a fresh interpreter itself."""
    reply = ask({"op": "spawn", "argv": list(argv), "env": dict(env),
                 "targets": [0, 1, 2, *pass_fds]}, [*stdio, *pass_fds])
    return reply == b"ok"


def keep_shim_server() -> int | None:
    """Have the warm engine start the shim fork server it keeps (see
    :func:`engine.containers.shimd.spawn_for_engine`) unless one runs; the pid of the kept
    server, which may still be starting, or None (no engine, or another server runs)."""
    reply = ask({"op": "keep_shims"})
    return int(reply) if reply is not None and reply.isdigit() else None


def linger() -> None:
    """Nothing of this state root runs any more: let the warm engine exit soon after its
    last command instead of after the full idle timeout. Not waited for: the engine reads it
    between two steps of its preload (one took up to 30 ms of a ``down`` that asked)."""
    tell({"op": "linger"})
