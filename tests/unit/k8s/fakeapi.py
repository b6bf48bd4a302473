"""A fake Kubernetes API server (unit tests only): server-side apply, get, list by label
selector and delete of namespaced objects, kept in memory. Workloads become ready on the
second read after they are applied, so a wait has to wait."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str, dict[str, list[str]], str]] = []
        self.reads: dict[str, int] = {}
        self.refuse: set[str] = set()  # names the server rejects with 422
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def kubeconfig(self, path: Path, namespace: str = "team") -> Path:
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "u", "user": {"token": "t0k"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "u",
                                                       "namespace": namespace}}]}))
        return path

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _request(self) -> tuple[str, dict[str, list[str]], Any]:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with api.lock:
                    api.requests.append((self.command, parts.path, parse_qs(parts.query),
                                         self.headers.get("Authorization", "")))
                return parts.path, parse_qs(parts.query), json.loads(raw) if raw else None

            def do_PATCH(self) -> None:  # noqa: N802
                path, query, body = self._request()
                if self.headers.get("Content-Type") != "application/apply-patch+yaml" or \
                        query.get("fieldManager") != ["pycompose"]:
                    return self._answer(415, {"message": "not a server-side apply"})
                if body["metadata"]["name"] in api.refuse:
                    return self._answer(422, {"message": f"{body['kind']} is invalid"})
                with api.lock:
                    api.objects[path] = body
                self._answer(200, body)

            def do_GET(self) -> None:  # noqa: N802
                path, query, _ = self._request()
                with api.lock:
                    if path in api.objects:
                        return self._answer(200, api._read(path))
                    wanted = dict(kv.split("=", 1) for kv in
                                  (query.get("labelSelector") or [""])[0].split(",") if kv)
                    items = [o for p, o in api.objects.items() if p.startswith(path + "/")
                             and all(o["metadata"]["labels"].get(k) == v
                                     for k, v in wanted.items())]
                if query.get("labelSelector"):
                    return self._answer(200, {"items": items})
                self._answer(404, {"message": "not found"})

            def do_DELETE(self) -> None:  # noqa: N802
                path, _, _ = self._request()
                with api.lock:
                    found = api.objects.pop(path, None)
                self._answer(200 if found else 404, {"status": "Success"})

        return Handler

    def _read(self, path: str) -> dict[str, Any]:
        obj = dict(self.objects[path])
        self.reads[path] = self.reads.get(path, 0) + 1
        if self.reads[path] >= 2 and obj["kind"] in ("Deployment", "StatefulSet"):
            obj["status"] = {"readyReplicas": obj["spec"].get("replicas", 1)}
        elif self.reads[path] >= 2 and obj["kind"] == "Job":
            obj["status"] = {"succeeded": 1}
        return obj
