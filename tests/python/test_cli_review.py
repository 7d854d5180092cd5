"""The CLI findings of the wave-2 review (issue 10, "while you are here").

A token named like another token's id made ``revoke X`` silently pick the id; names with
bidi or zero-width characters (rows from before the engine refused them) were printed raw.
"""

from __future__ import annotations

import sqlite3

import pytest
from test_cli import CLOCK_START, tk  # noqa: F401 - the CLI's real clock
from tokenkeep.cli import EXIT_USAGE as EXIT_USAGE_CODE


@pytest.mark.slow
def test_a_name_that_is_another_tokens_id_is_ambiguous_not_silently_the_id(db, store):
    first = store.create("alice", "first", {"device"})
    twin = store.create("alice", first.info.id, {"device"})  # named like the first one's id
    r = tk(db, "revoke", "--yes", first.info.id)
    assert r.code == EXIT_USAGE_CODE, (r.code, r.out, r.err)
    assert "is the id of token 'first' and the name of token" in r.err
    assert first.info.id in r.err and twin.info.id in r.err
    assert {t.id for t in store.list("alice")} == {first.info.id, twin.info.id}  # nothing revoked
    assert tk(db, "revoke", "--yes", twin.info.id).code == 0  # the other id is unambiguous
    assert [t.name for t in store.list("alice")] == ["first"]


def test_the_table_escapes_bidi_and_zero_width_characters(db, store):
    store.create("alice", "placeholder", {"device"})
    store.close()
    with sqlite3.connect(db) as c:  # a row written before the engine refused such names
        c.execute("UPDATE tokens SET name = ?", ("\u202eyolped-dorp\u200b",))
    r = tk(db, "list")
    assert r.code == 0, r.err
    assert "\u202e" not in r.out and "\u200b" not in r.out
    assert "\\u202eyolped-dorp\\u200b" in r.out


def test_read_commands_open_read_only_and_work_on_a_read_only_mount(tmp_path):
    """Issue 10 item 6: list, show, verify, expiring and audit opened the store read-write, so
    they failed on a read-only mount; a write command there fails with a clear error."""
    import os
    import subprocess
    import sys

    from tokenkeep import TokenStore

    folder = tmp_path / "ro"
    folder.mkdir()
    db = str(folder / "t.db")
    with TokenStore(db) as s:
        secret = s.create("alice", "ci", {"device"}).secret
    base = f'"$PY" -m tokenkeep --db {db} --owner alice'
    script = "; ".join(
        [
            f"mount --bind {folder} {folder}",
            f"mount -o remount,ro,bind {folder}",
            f"{base} list",
            f"{base} show ci",
            f'echo "$SECRET" | {base} verify --scope device:read',
            f"{base} expiring --within 40d",
            f"{base} audit",
            f"if {base} revoke --yes ci 2>/dev/null; then echo REVOKED; else echo WRITE-REFUSED; fi",
        ]
    )
    r = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-ec", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ, PY=sys.executable, SECRET=secret),
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("ci") >= 3, r.stdout
    assert "WRITE-REFUSED" in r.stdout and "REVOKED" not in r.stdout, r.stdout
    assert secret not in r.stdout + r.stderr
