"""What a first-time CLI user tripped over (issue 11): ambiguous durations, a help that was
one error line, "in 29 days" for a new 30-day token, a busy port reported as exit 3.

``--expires-in 1m`` made a token that expired in one minute, where most people mean a month.
"""

from __future__ import annotations

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
    assert "Traceback" not in r.err
