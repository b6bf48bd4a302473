"""A tiny in-process OCI registry for unit tests: bearer/basic auth, indexes, faults."""
from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class FakeRegistry:
    def __init__(self, auth: str | None = None, user: str = "u", password: str = "p") -> None:
        self.auth = auth
        self.creds = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.blobs: dict[str, bytes] = {}
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.corrupt: set[str] = set()
        self.truncate: set[str] = set()
        self.truncate_times = 10**9  # how many GETs of a truncated blob are cut off
        self.requests: list[str] = []
        self.redirect_blobs = False  # answer blob GETs with a redirect to another host
        self.cdn_auth_seen: list[str] = []
        self.token_requests: list[str] = []
        self.port = 0

    def add_blob(self, data: bytes) -> str:
        d = digest_of(data)
        self.blobs[d] = data
        return d

    def add_manifest(self, repo: str, ref: str, doc: dict[str, Any]) -> str:
        body = json.dumps(doc).encode()
        d = digest_of(body)
        self.manifests[(repo, ref)] = (body, doc["mediaType"])
        self.manifests[(repo, d)] = (body, doc["mediaType"])
        return d

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(reg: FakeRegistry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _authorized(self) -> bool:
            got = self.headers.get("Authorization", "")
            if reg.auth is None:
                return True
            if reg.auth == "basic":
                if got == f"Basic {reg.creds}":
                    return True
                self._send(401, b"{}", {"WWW-Authenticate": 'Basic realm="fake"'})
                return False
            if got == "Bearer good-token":
                return True
            realm = f"{reg.url}/token"
            self._send(401, b"{}", {"WWW-Authenticate": f'Bearer realm="{realm}",'
                                    'service="fake",scope="repository:x:pull"'})
            return False

        def _send(self, code: int, body: bytes, headers: dict[str, str] | None = None,
                  length: int | None = None) -> None:
            self.send_response(code)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802
            reg.requests.append(self.path)
            if self.path.startswith("/token"):
                reg.token_requests.append(self.path + " " + self.headers.get(
                    "Authorization", ""))
                self._send(200, json.dumps({"token": "good-token"}).encode())
                return
            if self.path.startswith("/_cdn/"):
                reg.cdn_auth_seen.append(self.headers.get("Authorization", ""))
                self._send(200, reg.blobs[self.path.rsplit("/", 1)[1]])
                return
            if not self._authorized():
                return
            parts = self.path.split("/")
            if "manifests" in parts:
                i = parts.index("manifests")
                key = ("/".join(parts[2:i]), parts[i + 1])
                if key not in reg.manifests:
                    self._send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"x"}]}')
                    return
                body, mt = reg.manifests[key]
                self._send(200, body, {"Content-Type": mt,
                                       "Docker-Content-Digest": digest_of(body)})
            elif "blobs" in parts:
                d = parts[-1]
                data = reg.blobs.get(d)
                if data is None:
                    self._send(404, b"{}")
                elif reg.redirect_blobs:
                    self._send(307, b"", {"Location": f"http://localhost:{reg.port}/_cdn/{d}"})
                elif d in reg.corrupt:
                    self._send(200, data[:-1] + bytes([data[-1] ^ 1]))
                elif d in reg.truncate and reg.truncate_times > 0:
                    reg.truncate_times -= 1
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data[: len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self._send(200, data)
            else:
                self._send(200, b"{}")

    return Handler


@contextmanager
def serve(reg: FakeRegistry) -> Iterator[FakeRegistry]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(reg))
    reg.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield reg
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
