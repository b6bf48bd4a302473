"""One-shot migration job: create the schema (idempotent) and seed one row.

Runs once postgres is healthy; the web service starts only after it exited with 0
(``service_completed_successfully``).
"""
from __future__ import annotations

import os
import sys

import psycopg2

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id         serial PRIMARY KEY,
    body       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)
"""


def main() -> int:
    conn = psycopg2.connect(host=os.environ["POSTGRES_HOST"], dbname=os.environ["POSTGRES_DB"],
                            user=os.environ["POSTGRES_USER"],
                            password=os.environ["POSTGRES_PASSWORD"], connect_timeout=5)
    with conn, conn.cursor() as cur:
        cur.execute(SCHEMA)
        cur.execute("SELECT count(*) FROM messages")
        if cur.fetchone()[0] == 0:
            cur.execute("INSERT INTO messages (body) VALUES (%s)", ("seeded by migrate",))
        cur.execute("SELECT count(*) FROM messages")
        print(f"migrate: table messages ready, {cur.fetchone()[0]} row(s)")
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
