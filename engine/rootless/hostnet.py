"""Outbound connections from the host's network namespace, for rootless commands.

A rootless command runs in the rootless network namespace, where ``127.0.0.1`` is its own
loopback: a registry on the host's loopback (or any host-only route) is out of reach from there.
Registry traffic is the host's business, so the rootless daemon (still in the host's network
namespace) connects on request and hands the connected socket back over its unix socket
(SCM_RIGHTS). ``http_handlers()`` gives urllib handlers that connect that way.
"""
from __future__ import annotations

import http.client
import json
import socket
import ssl
import urllib.request
from typing import Any

from engine.errors import EngineError

_TIMEOUT = 30.0


def create_connection(address: tuple[str, int], timeout: float | None = None,
                      source_address: Any = None, **kwargs: Any) -> socket.socket:
    """Like socket.create_connection, but the socket is connected from the host's network
    namespace by the rootless daemon."""
    from engine.paths import state_root
    from engine.rootless import detect
    from engine.rootless.daemon import SOCKET

    host, port = address
    default = getattr(socket, "_GLOBAL_DEFAULT_TIMEOUT", None)
    given = None if timeout is default else timeout
    wait = _TIMEOUT if given is None else given
    ns_dir = detect.namespace_dir(state_root())
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(float(wait) + 5)
        try:
            conn.connect(str(ns_dir / SOCKET))
            ask = {"op": "connect", "host": host, "port": int(port), "timeout": float(wait)}
            conn.sendall(json.dumps(ask).encode() + b"\n")
            data, fds, _, _ = socket.recv_fds(conn, 65536, 1)
        except OSError as e:
            raise EngineError(f"the rootless daemon does not answer: {e}", step="rootless",
                              obj=str(ns_dir)) from e
    reply = json.loads(data or b"{}")
    if not fds:
        raise OSError(reply.get("errno") or 0, reply.get("error") or "no socket from the daemon")
    sock = socket.socket(fileno=fds[0])
    sock.settimeout(given)
    return sock


def connect_for(request: dict[str, Any]) -> tuple[dict[str, Any], list[int]]:
    """The daemon's side: connect as asked; the reply and the fd to pass (closed by caller)."""
    try:
        sock = socket.create_connection((str(request["host"]), int(request["port"])),
                                        timeout=float(request.get("timeout") or _TIMEOUT))
    except OSError as e:
        return {"error": e.strerror or str(e), "errno": e.errno or 0}, []
    fd = sock.detach()
    return {"ok": True}, [fd]


class _HostHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection  # type: ignore[method-assign]


class _HostHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = create_connection  # type: ignore[method-assign]


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HostHTTPConnection, req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(context=context)
        self._ctx = context

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_HostHTTPSConnection, req, context=self._ctx)


def http_handlers(context: ssl.SSLContext) -> list[urllib.request.BaseHandler]:
    """urllib handlers whose connections start in the host's network namespace."""
    return [_HTTPHandler(), _HTTPSHandler(context)]
