"""A tiny HTTP API under test: GET /hits counts in redis, GET /ping checks redis."""
from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import redis

REDIS = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), socket_timeout=2)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/hits":
            self.reply(200, {"hits": REDIS.incr("hits")})
        elif self.path == "/ping":
            self.reply(200, {"redis": REDIS.ping()})
        else:
            self.reply(404, {"error": "not found"})

    def reply(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # PID 1 has no default SIGTERM action
    ThreadingHTTPServer(("0.0.0.0", 8000), Handler).serve_forever()
