"""The example web app: Python's standard library only (nothing to install in the image).

GET  /         JSON: a visit counter kept in redis, the rows of the messages table in postgres,
               and which container answered. Both backends are found by service name.
POST /messages append the request body as a row (shows the named volume keeps data).
GET  /healthz  200 when redis answers PING and postgres answers SELECT 1, else 503.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import redis

REDIS = redis.Redis(host=os.environ.get("REDIS_HOST", "redis"), socket_timeout=2,
                    socket_connect_timeout=2)


def db() -> psycopg2.extensions.connection:
    return psycopg2.connect(host=os.environ.get("POSTGRES_HOST", "postgres"),
                            dbname=os.environ["POSTGRES_DB"], user=os.environ["POSTGRES_USER"],
                            password=os.environ["POSTGRES_PASSWORD"], connect_timeout=3)


def query(sql: str, args: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    conn = db()  # one connection per request: postgres can shut down "fast" at any time
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            try:
                REDIS.ping()
                query("SELECT 1")
            except Exception as exc:  # any backend failure makes us unhealthy
                self.reply(503, {"status": "unhealthy", "error": str(exc)})
                return
            self.reply(200, {"status": "ok"})
        elif self.path == "/":
            rows = query("SELECT id, body FROM messages ORDER BY id")
            self.reply(200, {
                "greeting": os.environ.get("GREETING", "hello"),
                "visits": REDIS.incr("visits"),
                "messages": [{"id": i, "body": b} for i, b in rows],
                "served_by": socket.gethostname(),
            })
        else:
            self.reply(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/messages":
            self.reply(404, {"error": "not found"})
            return
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        (row,) = query("INSERT INTO messages (body) VALUES (%s) RETURNING id", (body,))
        self.reply(201, {"id": row[0], "body": body})

    def reply(self, status: int, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        if self.path != "/healthz":  # keep healthchecks out of the logs
            super().log_message(format, *args)


if __name__ == "__main__":
    # As a container's PID 1, Python gets no default action for SIGTERM: without a handler
    # `stop`/`down` would wait the whole grace period and then SIGKILL.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server = ThreadingHTTPServer(("0.0.0.0", 8000), Handler)
    print("web: listening on :8000", flush=True)
    server.serve_forever()
