"""The honest baseline: the token store a Python user would write with the standard library
alone (secrets + keyed hashlib.blake2b + sqlite3 + hmac.compare_digest).

Same guarantees where they cost something: a random public id in the token (one indexed
lookup per verify), a keyed BLAKE2b-256 digest (never the secret), constant-time compare,
scopes with name:action sub-scopes, expiry, revocation, names unique among live tokens, an
audit row per change, WAL with synchronous=FULL. It does not record last_used_at (which only
makes it faster). sqlite3 caches its prepared statements, so each verify is one cached
SELECT by primary key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Iterable, Sequence

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_VOCAB = {"collection": ("read", "write"), "device": ("read", "write"), "policy": ("read", "write")}


def _b62(n: int, width: int) -> str:
    out = []
    for _ in range(width):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(reversed(out))


def _expand(scopes: Iterable[str]) -> frozenset:
    out = set()
    for s in scopes:
        name, _, action = s.partition(":")
        actions = _VOCAB.get(name)
        if actions is None or (action and action not in actions):
            raise ValueError(f"unknown scope {s!r}")
        out.update(f"{name}:{a}" for a in ((action,) if action else actions))
    return frozenset(out)


def token_id(token: str) -> int | None:
    """The public id of a well-formed token; None for anything else."""
    if not token.startswith("tk_") or len(token) != 57:
        return None
    id_ = 0
    for c in token[3:14]:
        k = _ALPHABET.find(c)
        if k < 0:
            return None
        id_ = id_ * 62 + k
    return id_


class StdlibTokenStore:
    def __init__(self, path: str, pepper: bytes) -> None:
        self.pepper = pepper
        self.db = sqlite3.connect(
            path, isolation_level=None, check_same_thread=False, cached_statements=128
        )
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("PRAGMA busy_timeout=5000")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS tokens(
              id INTEGER PRIMARY KEY, owner TEXT NOT NULL, name TEXT NOT NULL,
              scopes TEXT NOT NULL, digest BLOB NOT NULL, created_at REAL NOT NULL,
              expires_at REAL, revoked_at REAL);
            CREATE UNIQUE INDEX IF NOT EXISTS live_name ON tokens(owner, name) WHERE revoked_at IS NULL;
            CREATE TABLE IF NOT EXISTS audit(seq INTEGER PRIMARY KEY AUTOINCREMENT, at REAL,
              actor TEXT, action TEXT, token_id INTEGER, owner TEXT, name TEXT, scopes TEXT);
            """
        )

    def _digest(self, id_: int, secret: str) -> bytes:
        return hashlib.blake2b(
            id_.to_bytes(8, "big") + secret.encode(), key=self.pepper, digest_size=32
        ).digest()

    def _new(self, owner: str, name: str, scopes: Sequence[str], lifetime: float, now: float):
        _expand(scopes)
        id_ = secrets.randbits(63) or 1
        secret = secrets.token_urlsafe(32)
        token = f"tk_{_b62(id_, 11)}{secret}"
        row = (
            id_,
            owner,
            name.strip(),
            " ".join(sorted(scopes)),
            self._digest(id_, secret),
            now,
            now + lifetime,
        )
        return token, row

    def create_many(
        self, owner: str, items: Sequence[tuple[str, Sequence[str]]], lifetime: float = 30 * 86400
    ) -> list[str]:
        now = time.time()
        made = [self._new(owner, n, s, lifetime, now) for n, s in items]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.executemany(
                "INSERT INTO tokens VALUES (?,?,?,?,?,?,?,NULL)", [r for _, r in made]
            )
            self.db.executemany(
                "INSERT INTO audit(at, actor, action, token_id, owner, name, scopes) VALUES (?,?,?,?,?,?,?)",
                [(now, owner, "create", r[0], owner, r[2], r[3]) for _, r in made],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return [t for t, _ in made]

    def create(self, owner: str, name: str, scopes: Sequence[str]) -> str:
        return self.create_many(owner, [(name, scopes)])[0]

    def verify(self, token: str, *required: str) -> tuple | None:
        """The row of a valid token granting every required scope; None otherwise."""
        id_ = token_id(token)
        if id_ is None:
            return None
        row = self.db.execute(
            "SELECT id, owner, name, scopes, digest, created_at, expires_at, revoked_at FROM tokens WHERE id = ?",
            (id_,),
        ).fetchone()
        return self._judge(row, id_, token, required)

    def _judge(self, row, id_: int, token: str, required) -> tuple | None:
        """The verdict on a row read by id: the secret, revocation, expiry, then the scopes."""
        if row is None or not hmac.compare_digest(bytes(row[4]), self._digest(id_, token[14:])):
            return None
        if row[7] is not None or (row[6] is not None and time.time() > row[6]):
            return None
        if required and not _expand(required) <= _expand(row[3].split()):
            return None
        return row
