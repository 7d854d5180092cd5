"""The honest PostgreSQL baseline: the token store a Python user would write with psycopg 3
(PyPI `psycopg`) on the same schema ideas as stdlib_store.py.

Same guarantees where they cost something: a random public id in the token (one lookup by
primary key per verify), a keyed BLAKE2b-256 digest (never the secret), constant-time compare,
scopes with name:action sub-scopes, expiry, revocation, names unique among live tokens (a
partial unique index), an audit row per change in the same transaction. Written as psycopg's
documentation suggests for speed: one connection, prepared statements (`prepare=True`), and
`executemany`, which psycopg 3 runs in pipeline mode (one round trip for the batch).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg
from stdlib_store import StdlibTokenStore, token_id


class PsycopgTokenStore(StdlibTokenStore):
    def __init__(self, url: str, pepper: bytes, schema: str = "psycopg_bench") -> None:
        self.pepper = pepper
        self.db = psycopg.connect(url, autocommit=True)
        self.db.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        self.db.execute(f"SET search_path TO {schema}")
        self.db.execute(
            """
            CREATE TABLE IF NOT EXISTS tokens(
              id BIGINT PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
              scopes TEXT NOT NULL, digest BYTEA NOT NULL, created_at DOUBLE PRECISION NOT NULL,
              expires_at DOUBLE PRECISION, revoked_at DOUBLE PRECISION);
            CREATE UNIQUE INDEX IF NOT EXISTS live_name ON tokens(owner, name) WHERE revoked_at IS NULL;
            CREATE TABLE IF NOT EXISTS audit(seq BIGSERIAL PRIMARY KEY, at DOUBLE PRECISION,
              actor TEXT, action TEXT, token_id BIGINT, owner TEXT, name TEXT, scopes TEXT);
            """
        )

    def close(self) -> None:
        self.db.close()

    def create_many(
        self, owner: str, items: Sequence[tuple[str, Sequence[str]]], lifetime: float = 30 * 86400
    ) -> list[str]:
        now = time.time()
        made = [self._new(owner, n, s, lifetime, now) for n, s in items]
        with self.db.transaction(), self.db.cursor() as cur:
            cur.executemany(
                "INSERT INTO tokens VALUES (%s,%s,%s,%s,%s,%s,%s,NULL)", [r for _, r in made]
            )
            cur.executemany(
                "INSERT INTO audit(at, actor, action, token_id, owner, name, scopes) VALUES (%s,%s,%s,%s,%s,%s,%s)",
                [(now, owner, "create", r[0], owner, r[2], r[3]) for _, r in made],
            )
        return [t for t, _ in made]

    def verify(self, token: str, *required: str) -> tuple | None:
        id_ = token_id(token)
        if id_ is None:
            return None
        row = self.db.execute(
            "SELECT id, owner, name, scopes, digest, created_at, expires_at, revoked_at FROM tokens WHERE id = %s",
            (id_,),
            prepare=True,
        ).fetchone()
        return self._judge(row, id_, token, required)
