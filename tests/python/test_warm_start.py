"""Warm start (issue 23): a store opened on a database that already holds tokens loads the ones
used recently into its cache in the background, so a restarted worker answers them from memory;
a token revoked while it loads is never served."""

from __future__ import annotations

import os
import random
import sqlite3
from datetime import UTC, datetime, timedelta

import tokenkeep
from tokenkeep import ManualClock

PEPPER = "7e" * 32


def _used_store(path: str, n: int, used: int) -> list:
    """n tokens, the first `used` of them verified once (their last_used_at persisted)."""
    with tokenkeep.TokenStore(path, pepper=PEPPER, warm_start=False) as s:
        issued = s.create_many("alice", [(f"t{i}", ["device"]) for i in range(n)])
        for i in issued[:used]:
            assert s.check(i.secret, "device:read")
    return issued


def test_a_reopened_store_loads_the_tokens_used_before_and_only_those(tmp_path):
    db = str(tmp_path / "w.db")
    issued = _used_store(db, 2_000, 500)
    with tokenkeep.TokenStore(db, pepper=PEPPER) as s:
        done, loaded, _ = s._e.warm_wait(30)
        assert (done, loaded) == (True, 500)
        assert s._e.cache_size() == 500
        assert all(s.check(i.secret, "device:read") for i in issued[:500])
        assert s._e.cache_size() == 500  # every one of them was a hit
    with tokenkeep.TokenStore(db, pepper=PEPPER, warm_start=False) as cold:
        assert cold._e.warm_wait(30) == (True, 0, 0)
        assert cold._e.cache_size() == 0


def test_warm_start_is_bounded_by_the_cache_and_by_the_last_seven_days(tmp_path):
    db = str(tmp_path / "w.db")
    clock = ManualClock(datetime(2031, 5, 1, tzinfo=UTC))
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock, warm_start=False) as s:
        issued = s.create_many(
            "alice", [(f"t{i}", ["device"]) for i in range(600)], expires_in=timedelta(days=90)
        )
        for i in issued[:300]:  # used 8 days before the reopen: outside the window
            assert s.check(i.secret)
        s._e.uses_flush()
        clock.advance(timedelta(days=8))
        for i in issued[300:500]:
            assert s.check(i.secret)
        revoked = issued[499]
        s.revoke("alice", revoked.info.id)  # used, but revoked: never loaded
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock) as s:
        assert s._e.warm_wait(30)[:2] == (True, 199)
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock, cache_size=64) as s:
        done, loaded, _ = s._e.warm_wait(30)
        assert done and 0 < loaded <= 64 and s._e.cache_size() == loaded
    with tokenkeep.TokenStore(db, pepper=PEPPER, clock=clock, cache_size=0) as s:
        assert s._e.warm_wait(30) == (True, 0, 0)


def test_a_token_revoked_while_the_cache_loads_is_never_served(tmp_path):
    """Revokes race the load: after a revoke returns, the loading store must refuse the token,
    and still refuse it once the load is over (a row read before the revoke must not enter the
    cache after it; half the victims are not verified until then, so no miss caches their
    revoked row first). The victims are among the ids the load reaches last (it reads the rows
    in id order), revoked as soon as the loading store is open. Counted over 12 reopenings of
    40,000 used tokens (96 revokes); at least some revokes must return while the load is still
    running, or the test would be blind."""
    db = str(tmp_path / "w.db")
    issued = _used_store(db, 40_000, 40_000)
    # Ids are 11 base62 digits, 0-9A-Za-z: in ASCII order, so sorting the text sorts the ids.
    last = sorted(issued, key=lambda i: i.info.id)[-4_000:]
    rng = random.Random(23)
    violations, raced, revokes = 0, 0, 0
    revoked: set[str] = set()
    with tokenkeep.TokenStore(db, pepper=PEPPER, warm_start=False) as writer:
        for _run in range(12):
            victims = rng.sample([i for i in last if i.info.id not in revoked], 8)
            with tokenkeep.TokenStore(db, pepper=PEPPER) as loading:
                for n, v in enumerate(victims):
                    writer.revoke("alice", v.info.id)
                    raced += not loading._e.warm_wait(0)[0]
                    revoked.add(v.info.id)
                    revokes += 1
                    # Half are verified at once; the others only after the load, so that no
                    # miss caches their revoked row before the load offers its older copy.
                    if n % 2:
                        violations += loading.check(v.secret)
                assert loading._e.warm_wait(60)[0]
                violations += sum(loading.check(i.secret) for i in issued if i.info.id in revoked)
    assert violations == 0
    assert revokes == 96 and raced > 0, raced


def test_warm_start_is_off_for_a_store_opened_with_warm_start_false(tmp_path):
    db = str(tmp_path / "w.db")
    issued = _used_store(db, 100, 100)
    with tokenkeep.TokenStore(db, pepper=PEPPER, warm_start=False) as s:
        assert s._e.warm_wait(5) == (True, 0, 0)
        assert s.check(issued[0].secret)
        assert s._e.cache_size() == 1
    assert os.path.exists(db)


def test_a_database_of_schema_7_gains_the_last_use_index_and_warms_from_it(tmp_path):
    db = str(tmp_path / "w.db")
    issued = _used_store(db, 300, 120)
    con = sqlite3.connect(db)
    con.executescript("DROP INDEX tokens_recent_use; PRAGMA user_version = 7;")
    con.close()
    with tokenkeep.TokenStore(db, pepper=PEPPER) as s:
        assert s._e.warm_wait(30)[:2] == (True, 120)
        assert all(s.check(i.secret, "device:read") for i in issued[:120])
        assert s._e.cache_size() == 120  # every one of them was a hit
    con = sqlite3.connect(db)
    try:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 8
        (sql,) = con.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'tokens_recent_use'"
        ).fetchone()
        assert "WHERE revoked_at IS NULL AND last_used_at IS NOT NULL" in sql
        # Only live tokens ever used are in it: 120 of 300.
        assert (
            con.execute(
                "SELECT count(*) FROM tokens INDEXED BY tokens_recent_use "
                "WHERE revoked_at IS NULL AND last_used_at > 0"
            ).fetchone()[0]
            == 120
        )
    finally:
        con.close()
