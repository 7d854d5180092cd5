"""Behind PgBouncer in transaction mode (README, "PostgreSQL"): the pool's calls go through
PgBouncer (unnamed statements: prepared_statements=False, as Debian's PgBouncer 1.18 needs),
the session that LISTENs goes straight to the server (relay_url), and a strict revoke on one
store is refused by the next verification on another, acknowledged through the notification
rather than a lease renewal. Needs TOKENKEEP_TEST_PG and pgbouncer (fail without them)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
import tokenkeep
from pgbouncer_kit import pgbouncer
from tokenkeep import TokenStore

pytestmark = pytest.mark.pg
PEPPER = "ab" * 32
# Lease renewals (which also acknowledge) every L/4 = 2 s: a revoke acknowledged within 1 s
# was acknowledged by the LISTEN session.
LEASE = 8.0


def _server_connections(direct: str, dbname: str) -> int:
    with psycopg.connect(direct, autocommit=True) as c:
        row = c.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (dbname,),
        ).fetchone()
        assert row is not None
        return int(row[0])


def test_stores_behind_transaction_mode_pgbouncer_verify_and_revoke_strictly():
    with pgbouncer(server_pool=2) as b:
        opts = {"pepper": PEPPER, "lease": LEASE, "relay_url": b.direct}
        opts["prepared_statements"] = False
        with TokenStore(b.url, **opts) as a, TokenStore(b.url, **opts, cache_size=0) as c:
            issued = [a.create("alice", f"t{i}", scopes=["device"]) for i in range(6)]
            errors: list[BaseException] = []
            done = [0]

            def work() -> None:  # cache_size=0: every verification is a statement
                try:
                    for _ in range(50):
                        for i in issued:
                            assert c.verify(i.secret, "device:read").name == i.info.name
                            done[0] += 1
                except BaseException as e:  # noqa: BLE001 - asserted below
                    errors.append(e)

            threads = [threading.Thread(target=work) for _ in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert errors == []
            assert done[0] == 4 * 50 * 6
            # Two stores x up to 4 pool connections each, on PgBouncer's 2 server
            # connections, plus the two direct LISTEN sessions.
            assert _server_connections(b.direct, b.dbname) <= 2 + 2
            with TokenStore(b.url, **opts) as d:  # a third node, cache warm
                assert d.verify(issued[0].secret).name == "t0"
                started = time.monotonic()
                a.revoke("alice", issued[0].info.id)
                took = time.monotonic() - started
                with pytest.raises(tokenkeep.RevokedToken):
                    d.verify(issued[0].secret)
                with pytest.raises(tokenkeep.RevokedToken):
                    c.verify(issued[0].secret)
                assert took < 1.0, took
