"""`tokenkeep leak`, `tokenkeep scanner-rules`, and scope usage in `show` and
`list --overprivileged`, run for real in a subprocess on the mixed leak text."""

from __future__ import annotations

import json
import re

import pytest
from leak_corpus import make_world
from test_cli import tk


def test_leak_from_a_file_revokes_and_prints_one_line_per_token(tmp_path):
    store, t, text, _ = make_world(tmp_path)
    store.close()
    leaked = tmp_path / "incident.txt"
    leaked.write_text(text)
    r = tk(str(tmp_path / "tokens.db"), "leak", str(leaked))
    assert r.code == 0, r.err
    rows = [line.split("\t") for line in r.out.splitlines()]
    assert [(row[0], row[1], row[3]) for row in rows] == [
        ("revoked", t["log"].info.id, "line 1"),
        ("revoked", t["diff"].info.id, "line 7"),
        ("revoked", t["json"].info.id, "line 9"),
        ("revoked", t["url"].info.id, "line 10"),
        ("already revoked", t["revoked"].info.id, "line 11"),
        ("expired (not revoked)", t["expired"].info.id, "line 11"),
        ("unknown or wrong secret", t["forged"].info.id, "line 12"),
    ]
    assert rows[2][2] == "bob/backup" and rows[6][2] == "-"
    assert "Revoked 4 tokens (3 owners) found in " in r.err
    assert "1 already revoked, 1 expired, 1 unknown." in r.err
    for issued in t.values():
        assert issued.secret not in r.out + r.err
    import tokenkeep

    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as s:
        assert not s.check(t["json"].secret) and s.check(t["forged"].secret)
        leaked_rows = [e for e in s.audit(limit=50) if e.action == "leaked"]
        assert {e.detail for e in leaked_rows} == {f"{leaked}, line {n}" for n in (1, 7, 9, 10)}


def test_leak_from_stdin_dry_run_json_changes_nothing(tmp_path):
    store, t, text, _ = make_world(tmp_path)
    store.close()
    r = tk(str(tmp_path / "tokens.db"), "leak", "--dry-run", "--json", input=text)
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["dry_run"] is True and doc["source"] == "stdin"
    assert [f["outcome"] for f in doc["findings"]].count("revoked") == 4
    assert doc["findings"][2]["owner"] == "bob" and doc["findings"][6]["owner"] is None
    import tokenkeep

    with tokenkeep.TokenStore(str(tmp_path / "tokens.db")) as s:
        assert s.check(t["log"].secret)
    r = tk(str(tmp_path / "tokens.db"), "leak", "-", "--source", "pastebin 17", input=text)
    assert r.code == 0 and "found in pastebin 17" in r.err


def test_leak_of_a_missing_file_is_a_usage_error(tmp_path):
    store, _, _, _ = make_world(tmp_path)
    store.close()
    r = tk(str(tmp_path / "tokens.db"), "leak", str(tmp_path / "nope.txt"))
    assert r.code == 2 and "cannot read" in r.err


def test_scanner_rules_print_the_stores_prefix(tmp_path):
    import tokenkeep

    db = str(tmp_path / "tokens.db")
    tokenkeep.TokenStore(db, prefix="acme").close()
    r = tk(db, "scanner-rules")
    assert r.code == 0
    assert r.out.splitlines()[-1] == r"\bacme_[0-9A-Za-z]{60}\b"
    r = tk(db, "scanner-rules", "--format", "gitleaks")
    assert r.code == 0 and 'id = "tokenkeep-acme"' in r.out
    r = tk(db, "scanner-rules", "--format", "detect-secrets")
    compile(r.out, "plugin.py", "exec")  # a Python module
    assert re.search(r"class TokenkeepTokenDetector", r.out)


@pytest.mark.slow
def test_show_prints_scope_usage_and_list_overprivileged(tmp_path):
    import tokenkeep

    db = str(tmp_path / "tokens.db")
    with tokenkeep.TokenStore(db) as s:
        wide = s.create("alice", "wide", {"device", "policy:read"})
        exact = s.create("alice", "exact", {"device:read"})
        s.create("bob", "idle", {"collection"})
        s.verify(wide.secret, "device:read")
        s.verify(exact.secret, "device:read")
    r = tk(db, "show", "wide")
    assert r.code == 0, r.err
    assert "Used (30 days)\tdevice:read" in r.out
    assert "Unused (30 days)\tdevice:write, policy:read" in r.out
    r = tk(db, "show", "wide", "--json")
    usage = json.loads(r.out)["scope_usage"]
    assert usage["used"] == ["device:read"] and usage["unused"] == ["device:write", "policy:read"]
    assert set(usage["last_used"]) == {"device:read"}
    r = tk(db, "list", "--overprivileged")
    assert r.code == 0, r.err
    assert [line.split("\t")[1] for line in r.out.splitlines()] == ["wide"]
    r = tk(db, "list", "--overprivileged", "--all-owners", "--json")
    assert sorted((d["owner"], d["name"], tuple(d["unused"])) for d in json.loads(r.out)) == [
        ("alice", "wide", ("device:write", "policy:read")),
        ("bob", "idle", ("collection",)),
    ]
