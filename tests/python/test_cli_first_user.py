"""What a first-time CLI user tripped over (issue 11): ambiguous durations, a help that was
one error line, "in 29 days" for a new 30-day token, a busy port reported as exit 3.

``--expires-in 1m`` made a token that expired in one minute, where most people mean a month.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from test_cli import CLOCK_START, tk, tk_tty, write_csv  # noqa: F401 - the CLI's real clock
from tokenkeep.cli import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("90min", timedelta(minutes=90)),
        ("3mo", timedelta(days=90)),
        ("1y2mo", timedelta(days=425)),
        ("1d12h", timedelta(hours=36)),
        ("45s", timedelta(seconds=45)),
        ("2w", timedelta(days=14)),
    ],
)
def test_units(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["1m", "90m", "1d1m", "1M"])
def test_a_bare_m_is_ambiguous(text):
    with pytest.raises(ValueError, match="min for minutes or .*mo for months"):
        parse_duration(text)


@pytest.mark.slow
def test_expires_in_1m_is_refused_offering_min_and_mo(db, store):
    r = tk(db, "create", "--name", "ci", "--scope", "device", "--expires-in", "1m")
    assert r.code == 2, (r.code, r.out, r.err)
    assert "1min" in r.err and "1mo" in r.err
    assert store.list("alice") == []
    ok = tk(db, "create", "--name", "ci", "--scope", "device", "--expires-in", "1mo")
    assert ok.code == 0, ok.err
    (info,) = store.list("alice")
    assert timedelta(days=29, hours=23) < info.expires_at - info.created_at <= timedelta(days=30)


def test_csv_expires_1m_is_refused_too(db, store, tmp_path):
    src = write_csv(tmp_path / "f.csv", [["a", "device", "1m"]])
    r = tk(db, "create", "--from", src, "--secrets-out", str(tmp_path / "s.jsonl"))
    assert r.code == 2, (r.code, r.out, r.err)
    assert "1min" in r.err and "1mo" in r.err
    assert store.list("alice") == []


def test_a_new_30_day_token_reads_in_30_days(db, store):
    store.create("alice", "ci", {"device"}, expires_in=timedelta(days=30))
    r = tk_tty(db, "list")
    assert r.code == 0, r.err
    assert "in 30 days" in r.out and "in 29 days" not in r.out, r.out


def test_tokenkeep_alone_prints_the_formatted_help():
    r = tk(None, owner=None)
    assert r.code == 0, r.err
    assert r.out.startswith("Usage: tokenkeep")
    assert "\nCommands:\n" in r.out and "error" not in r.err


@pytest.mark.server
def test_serve_on_a_busy_port_exits_1_with_a_clear_message(db, store):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = tk(db, "serve", "--port", str(port))
    assert r.code == 1, (r.code, r.err)
    assert f"cannot serve on 127.0.0.1:{port}" in r.err and "--port" in r.err
    assert "make run: PORT=8001" in r.err  # the way out for a `make run` user too
    assert "Traceback" not in r.err


# -- issue 22: what `verify` says, and what it reports ---------------------------------------


@pytest.mark.parametrize(
    ("shape", "fragment"),
    [
        (lambda t: f"Bearer {t}", "without the 'Bearer ' prefix"),
        (lambda t: f"bearer {t}", "without the 'Bearer ' prefix"),
        (lambda t: f'"{t}"', "the token is in quotes"),
        (lambda t: f"'{t}'", "the token is in quotes"),
        (lambda t: f"{t[:30]}\n{t[30:]}", "whitespace inside it"),
    ],
    ids=["Bearer", "bearer", "double-quotes", "single-quotes", "line-break"],
)
@pytest.mark.parametrize("via", ["env", "stdin"])
def test_verify_says_how_the_token_is_shaped_wrong(db, store, shape, fragment, via):
    t = store.create("alice", "ci", {"device"}).secret
    given = shape(t)
    if via == "env":
        r = tk(db, "verify", env={"TOKENKEEP_TOKEN": given})
    else:
        r = tk(db, "verify", input=given)
    assert r.code == 3, (r.code, r.out, r.err)
    assert r.err.startswith("tokenkeep: error: the token is invalid"), r.err
    assert fragment in r.err, r.err
    assert len(r.err.strip().splitlines()) == 1
    assert t[3:20] not in r.err
    assert t[3:20] not in r.out
    # an ordinary wrong token gets no hint (a hint must not be an oracle)
    plain = tk(db, "verify", env={"TOKENKEEP_TOKEN": "tk_" + "A" * 60})
    assert plain.code == 3
    assert "hint" not in plain.err


def test_verify_json_reports_the_recorded_last_use_as_show_does(db, store):
    issued = store.create("alice", "ci", {"device"})
    for _ in range(3):  # verify never records a use: last_used_at stays what is recorded
        r = tk(db, "--json", "verify", env={"TOKENKEEP_TOKEN": issued.secret})
        assert r.code == 0, r.err
        assert json.loads(r.out)["token"]["last_used_at"] is None, r.out
    shown = tk(db, "--json", "show", issued.info.id)
    assert json.loads(shown.out)["last_used_at"] is None, shown.out
    # After a real use (the library records it), both print the same moment.
    store.verify(issued.secret)
    store._e.uses_flush()
    recorded = store.get("alice", issued.info.id).last_used_at.isoformat()
    r = tk(db, "--json", "verify", env={"TOKENKEEP_TOKEN": issued.secret})
    shown = tk(db, "--json", "show", issued.info.id)
    assert json.loads(r.out)["token"]["last_used_at"] == recorded
    assert json.loads(shown.out)["last_used_at"] == recorded


def test_list_help_says_the_order_plainly(db):
    r = tk(db, "list", "--help")
    assert r.code == 0
    text = " ".join(r.out.split())
    assert "first first" not in text
    assert "newest first, or Z to A for name (--reverse: oldest first, or A to Z)" in text
