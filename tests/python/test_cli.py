"""The `tokenkeep` command line, run for real in a subprocess (`python -m tokenkeep`).

State is prepared and checked through the Python API on the same database file, so each
test spends its subprocesses on the behaviour it is about.
"""

from __future__ import annotations

import csv
import json
import os
import pty
import re
import select
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import tokenkeep
from tokenkeep import ManualClock, TokenStore

# The conftest's clock and store fixtures use the real clock here: the CLI runs in a subprocess
# and reads the real time.
CLOCK_START = None
SECRET_RE = re.compile(r"^tk_[A-Za-z0-9]{40,}$")
TOKEN_KEYS = {
    "id",
    "owner",
    "name",
    "scopes",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
    "description",
    "networks",
}
EVENT_KEYS = {
    "seq",
    "at",
    "actor",
    "action",
    "token_id",
    "owner",
    "name",
    "old_scopes",
    "new_scopes",
    "detail",
}


@dataclass
class Result:
    code: int
    out: str
    err: str


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TOKENKEEP_DB", "TOKENKEEP_TOKEN", "COLUMNS")
    }
    env.update(extra or {})
    return env


def tk(
    db: str | None,
    *args: str,
    owner: str | None = "alice",
    input: str | None = None,
    env: dict[str, str] | None = None,
    cwd: str | None = None,
) -> Result:
    """Run the CLI; --db and --owner come first unless None."""
    cmd = [sys.executable, "-m", "tokenkeep"]
    if db is not None:
        cmd += ["--db", db]
    if owner is not None:
        cmd += ["--owner", owner]
    p = subprocess.run(
        cmd + list(args),
        input=input if input is not None else "",
        capture_output=True,
        text=True,
        env=_env(env),
        cwd=cwd,
        timeout=120,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def assert_one_line_error(r: Result, code: int, *fragments: str) -> None:
    assert r.code == code, (r.code, r.out, r.err)
    lines = r.err.strip().splitlines()
    assert len(lines) == 1, r.err
    assert lines[0].startswith("tokenkeep: error: ")
    assert "Traceback" not in r.err
    for f in fragments:
        assert f in lines[0], (f, lines[0])


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def tk_tty(
    db: str | None,
    *args: str,
    owner: str | None = "alice",
    columns: int = 120,
    env: dict[str, str] | None = None,
) -> Result:
    """Run the CLI with stdout on a pseudo-terminal ``columns`` wide (stderr piped): what a
    person sees. ``out`` has colours removed and line ends as ``\n``."""
    cmd = [sys.executable, "-m", "tokenkeep"]
    cmd += ["--db", db] if db is not None else []
    cmd += ["--owner", owner] if owner is not None else []
    master, slave = pty.openpty()
    extra = {"TERM": "xterm", "COLUMNS": str(columns), **(env or {})}
    p = subprocess.Popen(
        cmd + list(args),
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=subprocess.PIPE,
        env=_env(extra),
        close_fds=True,
    )
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        out += chunk
    err = p.stderr.read().decode(errors="replace") if p.stderr else ""
    p.wait(timeout=120)
    os.close(master)
    text = ANSI.sub("", out.decode(errors="replace")).replace("\r\n", "\n")
    return Result(p.returncode, text, err)


def on_terminal(db: str, args: list[str], answer: str, owner: str = "alice") -> Result:
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; type ``answer`` at the
    first [y/N] prompt."""
    master, slave = pty.openpty()
    cmd = [sys.executable, "-m", "tokenkeep", "--db", db, "--owner", owner, *args]
    p = subprocess.Popen(
        cmd, stdin=slave, stdout=slave, stderr=slave, env=_env({"TERM": "xterm"}), close_fds=True
    )
    os.close(slave)
    out, answered, deadline = b"", False, time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                if not answered and b"[y/N]" in out:
                    os.write(master, answer.encode() + b"\r")
                    answered = True
            elif p.poll() is not None:
                break
        p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
    return Result(p.returncode, out.decode(errors="replace"), "")


def iso(s: str) -> datetime:
    dt = datetime.fromisoformat(s)
    assert dt.tzinfo is not None and dt.utcoffset() == timedelta(0)
    return dt


def assert_token_json(obj: dict) -> None:
    assert set(obj) == TOKEN_KEYS
    assert isinstance(obj["scopes"], list) and obj["scopes"] == sorted(obj["scopes"])
    iso(obj["created_at"])
    if obj["expires_at"] is not None:
        iso(obj["expires_at"])
    if obj["last_used_at"] is not None:
        iso(obj["last_used_at"])
    if obj["revoked_at"] is not None:
        iso(obj["revoked_at"])


# -- help, entry points, global options ------------------------------------------------------


@pytest.mark.slow
def test_help_documents_every_command_and_the_exit_codes(db):
    r = tk(db, "--help")
    assert r.code == 0
    for cmd in (
        "create",
        "list",
        "show",
        "edit",
        "revoke",
        "rotate",
        "verify",
        "expiring",
        "purge",
        "audit",
        "serve",
    ):
        assert re.search(rf"^\s+{cmd}\s", r.out, re.M), cmd
    v = tk(db, "verify", "--help")
    assert v.code == 0
    for line in (
        "0  success",
        "3  verify: invalid",
        "4  verify: token expired",
        "5  verify: token revoked",
        "6  verify: token lacks a required scope",
        "7  no such token",
        "8  a live token",
    ):
        assert line in r.out and line in v.out, line
    assert "TOKENKEEP_TOKEN" in v.out and "stdin" in v.out


@pytest.mark.slow
def test_console_script_and_module_agree_on_the_version(db):
    r = tk(None, "--version", owner=None)
    assert r.code == 0 and tokenkeep.__version__ in r.out
    script = Path(sys.executable).with_name("tokenkeep")
    assert script.exists(), f"console script missing: {script}"
    p = subprocess.run([str(script), "--version"], capture_output=True, text=True, env=_env())
    assert p.returncode == 0 and p.stdout == r.out


def test_default_db_comes_from_TOKENKEEP_DB_and_default_owner_is_the_os_user(tmp_path):
    db = str(tmp_path / "env.db")
    r = tk(
        None,
        "create",
        "--name",
        "from-env",
        "--scope",
        "device",
        owner=None,
        env={"TOKENKEEP_DB": db, "LOGNAME": "zed", "USER": "zed"},
    )
    assert r.code == 0, r.err
    with TokenStore(db) as s:
        assert [t.name for t in s.list("zed")] == ["from-env"]
        assert s.audit("zed")[0].actor == "zed"


@pytest.mark.slow
def test_json_is_accepted_before_and_after_the_command(db, store):
    store.create("alice", "a", {"device"})
    before = json.loads(tk(db, "--json", "list").out)
    after = json.loads(tk(db, "list", "--json").out)
    assert [t["name"] for t in before] == [t["name"] for t in after] == ["a"]


def test_unknown_option_and_unusable_database_are_one_line_errors(tmp_path):
    assert_one_line_error(tk(str(tmp_path / "x.db"), "list", "--bogus"), 2, "--bogus", "--help")
    assert_one_line_error(tk(str(tmp_path), "list"), 1, "--db")  # a directory is no database


# -- create ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_create_prints_only_the_secret_on_stdout_and_details_on_stderr(db, store):
    r = tk(
        db,
        "create",
        "--name",
        "ci-deploy",
        "--scope",
        "device",
        "--scope",
        "policy",
        "--expires-in",
        "30d",
    )
    assert r.code == 0, r.err
    secret = r.out.strip()
    assert r.out == secret + "\n" and SECRET_RE.match(secret)
    assert secret not in r.err
    assert "ci-deploy" in r.err and "shown only once" in r.err and "in 30 days" in r.err
    info = store.verify(secret, "device:write", "policy:read")
    assert (
        info.name == "ci-deploy" and info.owner == "alice" and info.scopes == {"device", "policy"}
    )
    lifetime = info.expires_at - info.created_at
    assert timedelta(days=30) - timedelta(seconds=5) < lifetime <= timedelta(days=30)


@pytest.mark.slow
def test_create_with_comma_separated_scopes_and_an_expiry_date(db, store):
    day = date.today() + timedelta(days=10)
    r = tk(
        db,
        "create",
        "-n",
        "reader",
        "-s",
        "device:read,policy:read",
        "--expires-at",
        day.isoformat(),
    )
    assert r.code == 0, r.err
    info = store.verify(r.out.strip(), "device:read", "policy:read")
    assert info.scopes == {"device:read", "policy:read"}
    assert info.expires_at == datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC)
    r = tk(
        db,
        "create",
        "-n",
        "at-time",
        "-s",
        "device",
        "--expires-at",
        f"{day.isoformat()}T12:00:00+02:00",
    )
    assert r.code == 0, r.err
    assert store.verify(r.out.strip()).expires_at == datetime(
        day.year, day.month, day.day, 10, tzinfo=UTC
    )


@pytest.mark.slow
def test_create_with_a_description_shows_it_in_show_and_list_json(db, store):
    r = tk(db, "create", "--name", "ci", "--scope", "device", "--description", "Deploys from CI")
    assert r.code == 0, r.err
    (info,) = store.list("alice")
    assert info.description == "Deploys from CI"
    shown = tk(db, "show", "ci").out.splitlines()
    assert "Description\tDeploys from CI" in shown
    (row,) = json.loads(tk(db, "--json", "list").out)
    assert_token_json(row)
    assert row["description"] == "Deploys from CI"
    assert "Description" not in tk(db, "show", store.create("alice", "x", {"device"}).info.id).out
    bad = tk(db, "--json", "create", "--name", "y", "--scope", "device", "--description", "a\tb")
    assert bad.code == 2, bad.err
    assert json.loads(bad.err)["error"]["field"] == "--description"
    assert sorted(t.name for t in store.list("alice")) == ["ci", "x"]


def test_create_json_is_one_line_with_secret_and_token(db, store):
    r = tk(db, "--json", "create", "--name", "j", "--scope", "collection")
    assert r.code == 0, r.err
    assert r.out.count("\n") == 1
    obj = json.loads(r.out)
    assert set(obj) == {"secret", "token"}
    assert_token_json(obj["token"])
    assert obj["token"]["name"] == "j" and obj["token"]["scopes"] == ["collection"]
    assert store.verify(obj["secret"]).id == obj["token"]["id"]


@pytest.mark.slow
def test_create_rejects_bad_input_with_one_line_and_creates_nothing(db, store):
    store.create("alice", "taken", {"device"})
    past = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    too_far = (date.today() + timedelta(days=400)).isoformat()
    cases = [
        (
            ["--name", "x", "--scope", "device", "--expires-at", "31/12/2027"],
            2,
            "bad date '31/12/2027'",
        ),
        (["--name", "x", "--scope", "device", "--expires-at", past], 2, "future"),
        (["--name", "x", "--scope", "device", "--expires-at", too_far], 2, "365 days"),
        (["--name", "x", "--scope", "device", "--expires-in", "30 days"], 2, "bad duration"),
        (
            ["--name", "x", "--scope", "device", "--expires-in", "1d", "--expires-at", too_far],
            2,
            "not both",
        ),
        (["--name", "x", "--scope", "gadget"], 2, "unknown scope 'gadget'"),
        (["--name", "x", "--scope", "device:admin"], 2, "unknown scope 'device:admin'"),
        (["--scope", "device"], 2, "--name"),
        (["--name", "   ", "--scope", "device"], 2, "--name"),
        (["--name", "x" * 101, "--scope", "device"], 2, "100"),
        (["--name", "x"], 2, "--scope"),
        (["--name", "taken", "--scope", "device"], 8, "already exists"),
    ]
    for args, code, fragment in cases:
        r = tk(db, "create", *args)
        assert_one_line_error(r, code, fragment)
        assert r.out == "", args
    assert [t.name for t in store.list("alice")] == ["taken"]


@pytest.mark.slow
def test_create_secrets_out_writes_a_new_0600_file_and_never_overwrites(db, store, tmp_path):
    out = tmp_path / "secret.jsonl"
    r = tk(db, "create", "--name", "filed", "--scope", "device", "--secrets-out", str(out))
    assert r.code == 0, r.err
    assert r.out == ""
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    line = json.loads(out.read_text())
    assert store.verify(line["secret"]).name == "filed"
    assert line["secret"] not in r.err
    before = out.read_text()
    r = tk(db, "create", "--name", "second", "--scope", "device", "--secrets-out", str(out))
    assert_one_line_error(r, 2, "already exists")
    assert out.read_text() == before
    assert [t.name for t in store.list("alice")] == ["filed"]


# -- bulk create -----------------------------------------------------------------------------


def write_csv(path: Path, rows: list[list[str]], header=("name", "scopes", "expires")) -> str:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        if header:
            w.writerow(header)
        w.writerows(rows)
    return str(path)


@pytest.mark.slow
def test_bulk_create_of_10000_rows_is_fast_with_per_row_expiry_and_a_0600_secrets_file(
    db, tmp_path
):
    day = date.today() + timedelta(days=60)
    rows = [
        [
            f"device-{i:05d}",
            "device policy:read" if i % 2 else "device",
            ["", "7d", day.isoformat()][i % 3],
        ]
        for i in range(10_000)
    ]
    src = write_csv(tmp_path / "fleet.csv", rows)
    out = tmp_path / "fleet-secrets.jsonl"
    started = time.monotonic()
    r = tk(db, "create", "--from", src, "--secrets-out", str(out), owner="fleet")
    elapsed = time.monotonic() - started
    assert r.code == 0, r.err
    assert elapsed < 30, elapsed
    assert r.out == ""
    assert "10000 tokens" in r.err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [x["token"]["name"] for x in lines] == [row[0] for row in rows]
    assert not any(x["secret"] in r.err for x in lines[:100])
    with TokenStore(db) as s:
        assert len(s.list("fleet")) == 10_000
        for i in (0, 1, 2, 9_999):
            info = s.verify(lines[i]["secret"], "device")
            assert info.name == rows[i][0]
            assert info.scopes == ({"device", "policy:read"} if i % 2 else {"device"})
            life = info.expires_at - info.created_at
            if i % 3 == 0:
                assert abs(life - timedelta(days=30)) < timedelta(seconds=5)
            elif i % 3 == 1:
                assert abs(life - timedelta(days=7)) < timedelta(seconds=5)
            else:
                assert info.expires_at == datetime(
                    day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC
                )
    # The same secrets file names the tokens to revoke, all in one go.
    started = time.monotonic()
    r = tk(db, "revoke", "--from", str(out), "--yes", owner="fleet")
    assert r.code == 0, r.err
    assert time.monotonic() - started < 30
    assert "10000 tokens" in r.err
    with TokenStore(db) as s:
        assert s.list("fleet") == []
        assert not s.check(lines[5]["secret"])


def test_bulk_create_without_secrets_file_prints_json_lines_and_honours_default_expiry(
    db, store, tmp_path
):
    src = write_csv(tmp_path / "two.csv", [["a", "device", ""], ["b", "policy;collection", ""]])
    r = tk(db, "create", "--from", src, "--expires-in", "2d")
    assert r.code == 0, r.err
    lines = [json.loads(line) for line in r.out.splitlines()]
    assert [set(x) for x in lines] == [{"secret", "token"}] * 2
    for x in lines:
        assert_token_json(x["token"])
        info = store.verify(x["secret"])
        assert abs(info.expires_at - info.created_at - timedelta(days=2)) < timedelta(seconds=5)
    assert lines[1]["token"]["scopes"] == ["collection", "policy"]


@pytest.mark.slow
def test_bulk_create_is_all_or_nothing(db, store, tmp_path):
    store.create("alice", "existing", {"device"})
    good = [[f"ok-{i}", "device", ""] for i in range(50)]
    cases = [
        (good + [["bad", "gadget", ""]], 2, "line 52: unknown scope 'gadget'"),
        (good + [["", "device", ""]], 2, "line 52: a token name must not be empty"),
        (good + [["ok-3", "device", ""]], 2, "also on line 5"),
        (good + [["existing", "device", ""]], 8, "'existing' already exists"),
        (good + [["late", "device", "31/12/2027"]], 2, "line 52: bad expiry '31/12/2027'"),
        (good + [["late", "device", "400d"]], 2, "365 days"),  # only the engine knows: rolled back
        (good + [["short", "device"]], 2, "line 52: 2 fields"),
    ]
    for n, (rows, code, fragment) in enumerate(cases):
        src = write_csv(tmp_path / f"case{n}.csv", rows)
        out = tmp_path / f"case{n}.jsonl"
        r = tk(db, "create", "--from", src, "--secrets-out", str(out))
        assert_one_line_error(r, code, fragment)
        assert not out.exists(), fragment
        assert [t.name for t in store.list("alice")] == ["existing"], fragment


@pytest.mark.slow
def test_bulk_create_reports_unreadable_and_malformed_files(db, store, tmp_path):
    (tmp_path / "binary.csv").write_bytes(b"name,scopes\n\xff\xfe\x00bad\n")
    (tmp_path / "empty.csv").write_text("")
    write_csv(tmp_path / "header.csv", [["a", "device"]], header=("name", "scope"))
    write_csv(tmp_path / "rows.csv", [], header=("name", "scopes"))
    cases = [
        (str(tmp_path / "missing.csv"), "No such file or directory"),
        (str(tmp_path), "Is a directory"),
        (str(tmp_path / "binary.csv"), "not UTF-8"),
        (str(tmp_path / "empty.csv"), "is empty"),
        (str(tmp_path / "header.csv"), "header"),
        (str(tmp_path / "rows.csv"), "no rows"),
    ]
    for path, fragment in cases:
        assert_one_line_error(tk(db, "create", "--from", path), 2, fragment)
    assert_one_line_error(
        tk(db, "create", "--from", str(tmp_path / "rows.csv"), "--name", "x"), 2, "--from"
    )
    assert store.list("alice") == []


@pytest.mark.slow
def test_bulk_create_shows_progress_on_a_terminal(db, tmp_path):
    src = write_csv(tmp_path / "p.csv", [[f"p{i}", "device", ""] for i in range(3000)])
    master, slave = pty.openpty()
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tokenkeep",
            "--db",
            db,
            "--owner",
            "alice",
            "create",
            "--from",
            src,
            "--secrets-out",
            str(tmp_path / "p.jsonl"),
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=_env({"TERM": "xterm"}),
    )
    os.close(slave)
    err = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        err += chunk
    assert p.wait(timeout=60) == 0
    os.close(master)
    text = err.decode(errors="replace")
    assert "Checking rows" in text or "Creating 3000 tokens" in text
    assert "3000 tokens" in text


# -- list, show, edit ------------------------------------------------------------------------


@pytest.mark.slow
def test_list_shows_a_readable_table_and_a_json_array(db, store):
    store.create("alice", "older", {"device"}, expires_in=timedelta(days=30))
    store.create("alice", "newer", {"policy:read", "collection"}, expires_in=timedelta(days=7))
    store.create("bob", "bobs", {"device"})
    r = tk_tty(db, "list")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0].split() == ["ID", "NAME", "SCOPES", "CREATED", "EXPIRES", "LAST", "USED"]
    assert "newer" in lines[1] and "collection, policy:read" in lines[1] and "in 7 days" in lines[1]
    assert "older" in lines[2] and "in 30 days" in lines[2] and "never" in lines[2]
    assert "bobs" not in r.out
    # aligned: every row's NAME starts in the same column
    col = lines[0].index("NAME")
    assert lines[1][col:].startswith("newer") and lines[2][col:].startswith("older")
    data = json.loads(tk(db, "--json", "list").out)
    assert [t["name"] for t in data] == ["newer", "older"]
    for t in data:
        assert_token_json(t)
    assert json.loads(tk(db, "--json", "list", owner="nobody").out) == []
    empty = tk(db, "list", owner="nobody")
    assert empty.code == 0 and empty.out == "" and "No tokens" in empty.err


@pytest.mark.slow
def test_show_finds_a_token_by_id_or_name_and_never_echoes_a_secret(db, store):
    issued = store.create("alice", "ci", {"device"})
    store.create("bob", "bobs", {"device"})
    by_id = tk(db, "show", issued.info.id)
    assert (
        by_id.code == 0 and "ci" in by_id.out and "Last used" in by_id.out and "never" in by_id.out
    )
    obj = json.loads(tk(db, "--json", "show", "ci").out)
    usage = obj.pop("scope_usage")  # show adds what the token used (test_cli_leak.py)
    assert usage == {"days": 30, "used": [], "unused": ["device"], "last_used": {}}
    assert obj.pop("recent_clients") == []  # and where from (test_cli_networks.py)
    assert_token_json(obj)
    assert obj["id"] == issued.info.id
    bob_id = store.list("bob")[0].id
    assert_one_line_error(tk(db, "show", bob_id), 7, "no token")  # another owner's id
    r = tk(db, "show", issued.secret)
    assert_one_line_error(r, 2, "looks like a token secret")
    assert issued.secret not in r.err


@pytest.mark.slow
def test_edit_changes_only_the_scopes(db, store):
    issued = store.create("alice", "ci", {"device", "policy"})
    r = tk(db, "edit", "ci", "--scope", "device:read")
    assert r.code == 0, r.err
    assert "device:read" in r.err
    after = store.get("alice", issued.info.id)
    assert after.scopes == {"device:read"}
    assert (after.name, after.expires_at, after.created_at) == (
        issued.info.name,
        issued.info.expires_at,
        issued.info.created_at,
    )
    obj = json.loads(tk(db, "--json", "edit", issued.info.id, "-s", "policy,collection:write").out)
    assert obj["scopes"] == ["collection:write", "policy"]
    assert_one_line_error(tk(db, "edit", "ci", "--scope", "gadget"), 2, "unknown scope")
    assert_one_line_error(tk(db, "edit", "ci"), 2, "--scope")
    assert_one_line_error(tk(db, "edit", "nope", "--scope", "device"), 7)
    assert store.get("alice", issued.info.id).scopes == {"collection:write", "policy"}


# -- revoke ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_show_of_a_revoked_token_by_id_says_when_it_was_revoked(db, store):
    issued = store.create("alice", "ci", {"device"})
    assert json.loads(tk(db, "--json", "show", "ci").out)["revoked_at"] is None
    assert "Revoked" not in tk(db, "show", "ci").out
    store.revoke("alice", issued.info.id)
    revoked_at = store.list("alice", state="all")[0].revoked_at
    assert revoked_at is not None
    r = tk(db, "show", issued.info.id)
    assert r.code == 0, r.err
    (line,) = [x for x in r.out.splitlines() if x.startswith("Revoked")]
    assert revoked_at.strftime("%Y-%m-%d %H:%M UTC") in line
    assert "Unused" not in r.out  # a revoked token uses nothing more
    obj = json.loads(tk(db, "--json", "show", issued.info.id).out)
    assert datetime.fromisoformat(obj["revoked_at"]) == revoked_at
    assert obj["scope_usage"] is None
    # by name a revoked token is not found: a name is reused, an id never is
    assert_one_line_error(tk(db, "show", "ci"), 7, "no token")


@pytest.mark.slow
def test_revoke_without_a_terminal_needs_yes(db, store):
    issued = store.create("alice", "ci", {"device"})
    r = tk(db, "revoke", "ci")
    assert_one_line_error(r, 2, "--yes")
    assert store.check(issued.secret)
    r = tk(db, "--json", "revoke", issued.info.id, "--yes")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"revoked": [issued.info.id]}
    assert not store.check(issued.secret)
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(issued.secret)
    assert_one_line_error(tk(db, "revoke", issued.info.id, "--yes"), 7)
    assert_one_line_error(tk(db, "revoke", "--yes"), 2, "token id")


@pytest.mark.slow
def test_revoke_asks_on_a_terminal_and_only_yes_revokes(db, store):
    issued = store.create("alice", "ci", {"device"})
    r = on_terminal(db, ["revoke", "ci"], "n")
    assert "Revoke token 'ci'? [y/N]" in r.out
    assert r.code == 1 and "not revoked" in r.out
    assert store.check(issued.secret)
    r = on_terminal(db, ["revoke", "ci"], "")  # the default is No
    assert r.code == 1 and store.check(issued.secret)
    r = on_terminal(db, ["revoke", "ci"], "y")
    assert r.code == 0, r.out
    assert "Revoked token 'ci'" in r.out
    assert not store.check(issued.secret)


@pytest.mark.slow
def test_revoke_from_file_is_all_or_nothing_and_reads_ids_or_names(db, store, tmp_path):
    a, b, c = (store.create("alice", n, {"device"}) for n in ("a", "b", "c"))
    ids = tmp_path / "ids.txt"
    ids.write_text(f"# to revoke\n{a.info.id}\n\n{b.info.id}\nNOTANID0000\n")
    assert_one_line_error(
        tk(db, "revoke", "--from", str(ids), "--yes"), 7, "NOTANID0000", "nothing was revoked"
    )
    assert len(store.list("alice")) == 3
    ids.write_text(f"{a.info.id}\n{b.info.id}\n")
    assert_one_line_error(tk(db, "revoke", "--from", str(ids)), 2, "--yes")
    r = tk(db, "--json", "revoke", "--from", str(ids), "--yes")
    assert r.code == 0, r.err
    assert sorted(json.loads(r.out)["revoked"]) == sorted([a.info.id, b.info.id])
    assert [t.name for t in store.list("alice")] == ["c"]
    names = write_csv(tmp_path / "names.csv", [["c", "device", ""]])
    r = tk(db, "revoke", "--from", "-", "--yes", input=Path(names).read_text())
    assert r.code == 0, r.err
    assert store.list("alice") == []
    assert_one_line_error(
        tk(db, "revoke", "--from", str(tmp_path / "nope.txt"), "--yes"), 2, "cannot read"
    )


def test_revoke_many_on_a_terminal_asks_once(db, store, tmp_path):
    for n in ("a", "b"):
        store.create("alice", n, {"device"})
    ids = tmp_path / "ids.txt"
    ids.write_text("".join(t.id + "\n" for t in store.list("alice")))
    r = on_terminal(db, ["revoke", "--from", str(ids)], "y")
    assert "Revoke 2 tokens" in r.out and r.code == 0
    assert store.list("alice") == []


# -- rotate ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_rotate_prints_a_new_secret_and_revokes_the_old_one(db, store):
    old = store.create("alice", "ci", {"device"})
    r = tk(db, "rotate", "ci")
    assert r.code == 0, r.err
    new_secret = r.out.strip()
    assert SECRET_RE.match(new_secret) and new_secret != old.secret
    assert new_secret not in r.err and "shown only once" in r.err
    info = store.verify(new_secret, "device")
    assert info.name == "ci" and info.expires_at == old.info.expires_at
    with pytest.raises(tokenkeep.RevokedToken):
        store.verify(old.secret)
    obj = json.loads(tk(db, "--json", "rotate", info.id).out)
    assert set(obj) == {"secret", "token", "replaced"} and obj["replaced"] == info.id
    assert store.verify(obj["secret"]).id == obj["token"]["id"]
    assert_one_line_error(tk(db, "rotate", "nope"), 7)


# -- verify ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_exit_codes_from_stdin_and_from_the_environment(db, store):
    good = store.create("alice", "good", {"device:read"})
    revoked = store.create("alice", "gone", {"device"})
    store.revoke("alice", revoked.info.id)
    past = ManualClock(datetime.now(UTC) - timedelta(days=10))
    with TokenStore(db, clock=past) as old_store:
        expired = old_store.create("alice", "old", {"device"}, expires_in=timedelta(days=1))
    mistyped = good.secret[:-1] + ("A" if good.secret[-1] != "A" else "B")

    def via_stdin(secret, *scopes):
        return tk(
            db,
            "verify",
            *[a for s in scopes for a in ("--scope", s)],
            input=secret + "\n",
            owner=None,
        )

    def via_env(secret, *scopes):
        return tk(
            db,
            "verify",
            *[a for s in scopes for a in ("-s", s)],
            env={"TOKENKEEP_TOKEN": secret},
            owner=None,
        )

    for run in (via_stdin, via_env):
        ok = run(good.secret, "device:read")
        assert ok.code == 0, ok.err
        assert "valid" in ok.out and "good" in ok.out
        for secret, scopes, code, fragment in (
            ("not a token", (), 3, "invalid"),
            (mistyped, (), 3, "invalid"),
            (expired.secret, (), 4, "expired"),
            (revoked.secret, (), 5, "revoked"),
            (good.secret, ("device:write",), 6, "lacks scope device:write"),
        ):
            r = run(secret, *scopes)
            assert_one_line_error(r, code, fragment)
            assert secret not in r.err and secret not in r.out
    # verify opens the store read-only (issue 10 item 6): an operator's check is not a use.
    assert store.get("alice", good.info.id).last_used_at is None


@pytest.mark.slow
def test_verify_json_and_refusals(db, store):
    good = store.create("alice", "good", {"device"})
    ok = json.loads(tk(db, "--json", "verify", "-s", "device:read", input=good.secret).out)
    assert ok["valid"] is True and ok["token"]["id"] == good.info.id
    assert ok["required"] == ["device:read"] and ok["granted"] == ["device"]
    assert set(ok) == {"valid", "token", "required", "granted"}
    r = tk(db, "verify", "--json", "-s", "policy", input=good.secret)
    assert r.code == 6 and r.out == ""  # an error is the JSON error object, on stderr
    assert json.loads(r.err) == {
        "error": {
            "code": "insufficient_scope",
            "message": "the token lacks scope policy; it has device",
            "field": None,
            "required": ["policy"],
            "granted": ["device"],
        }
    }
    # never from argv, and never echoed back
    r = tk(db, "verify", good.secret)
    assert_one_line_error(r, 2, "stdin")
    assert good.secret not in r.err
    assert_one_line_error(tk(db, "verify", input=""), 2, "TOKENKEEP_TOKEN")
    assert_one_line_error(tk(db, "verify", "-s", "gadget", input=good.secret), 2, "unknown scope")


# -- expiring, purge, audit ------------------------------------------------------------------


@pytest.mark.slow
def test_expiring_lists_soon_to_expire_tokens(db, store):
    store.create("alice", "soon", {"device"}, expires_in=timedelta(days=3))
    store.create("alice", "later", {"device"}, expires_in=timedelta(days=20))
    store.create("bob", "bob-soon", {"device"}, expires_in=timedelta(days=1))
    r = tk_tty(db, "expiring")
    assert (
        r.code == 0
        and "soon" in r.out
        and "in 3 days" in r.out
        and "later" not in r.out
        and "bob" not in r.out
    )
    assert [t["name"] for t in json.loads(tk(db, "--json", "expiring", "--within", "30d").out)] == [
        "soon",
        "later",
    ]
    everyone = tk_tty(db, "expiring", "--all-owners")
    assert "bob-soon" in everyone.out and "OWNER" in everyone.out
    assert_one_line_error(tk(db, "expiring", "--within", "soon"), 2, "bad duration")
    assert "No token" in tk(db, "expiring", "--within", "1h").err


@pytest.mark.slow
def test_purge_drops_revoked_and_expired_tokens_only(db, store):
    gone = store.create("alice", "gone", {"device"})
    store.revoke("alice", gone.info.id)
    live = store.create("alice", "live", {"device"})
    assert json.loads(tk(db, "--json", "purge", "--older-than", "1d").out) == {"purged": 0}
    dry = tk(db, "purge", "--dry-run")
    assert dry.code == 0 and "Would purge 1 token" in dry.err
    assert json.loads(tk(db, "--json", "purge", "--dry-run").out) == {"purged": 0, "would_purge": 1}
    refused = tk(db, "purge")  # no terminal, no --yes: nothing deleted
    assert refused.code == 2 and "pass --yes" in refused.err
    assert store.purge(dry_run=True) == 1  # still there
    r = tk(db, "purge", "--yes")
    assert r.code == 0 and "Purged 1 token." in r.err
    assert store.check(live.secret)
    assert json.loads(tk(db, "--json", "purge").out) == {"purged": 0}  # nothing to confirm


@pytest.mark.slow
def test_audit_shows_changes_newest_first(db, store):
    issued = store.create("alice", "ci", {"device"})
    store.update_scopes("alice", issued.info.id, {"policy"})
    store.revoke("alice", issued.info.id)
    store.create("bob", "b", {"device"})
    events = json.loads(tk(db, "--json", "audit").out)
    assert [e["action"] for e in events] == ["revoke", "update_scopes", "create"]
    for e in events:
        assert set(e) == EVENT_KEYS
        iso(e["at"])
    assert events[1]["old_scopes"] == ["device"] and events[1]["new_scopes"] == ["policy"]
    assert len(json.loads(tk(db, "--json", "audit", "--limit", "1").out)) == 1
    table = tk(db, "audit")
    assert table.code == 0 and "update_scopes" in table.out and "device -> policy" in table.out
    assert "bob" not in table.out
    assert "bob" in tk(db, "audit", "--all-owners").out
    assert_one_line_error(tk(db, "audit", "--limit", "0"), 2, "--limit")


# -- serve -----------------------------------------------------------------------------------

_FAKE_ADMIN = """
import json, sys, types
web = types.ModuleType("tokenkeep.web"); web.__path__ = []
admin = types.ModuleType("tokenkeep.web.admin")
admin.serve = lambda db, **kw: print(json.dumps({"db": db, **kw}))
sys.modules.update({"tokenkeep.web": web, "tokenkeep.web.admin": admin})
from tokenkeep.cli import main
main(sys.argv[1:])
"""

_NO_ADMIN = """
import sys
sys.modules["tokenkeep.web.admin"] = None
from tokenkeep.cli import main
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_serve_hands_the_database_owner_host_and_port_to_the_admin_page(db):
    p = subprocess.run(
        [
            sys.executable,
            "-c",
            _FAKE_ADMIN,
            "--db",
            db,
            "--owner",
            "carol",
            "serve",
            "--port",
            "8123",
            "--host",
            "0.0.0.0",
        ],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout) == {"db": db, "user": "carol", "host": "0.0.0.0", "port": 8123}
    p = subprocess.run(
        [sys.executable, "-c", _FAKE_ADMIN, "--db", db, "--owner", "carol", "serve"],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert json.loads(p.stdout) == {"db": db, "user": "carol", "host": "127.0.0.1", "port": 8000}


@pytest.mark.slow
def test_serve_without_the_admin_page_is_a_one_line_error(db):
    p = subprocess.run(
        [sys.executable, "-c", _NO_ADMIN, "--db", db, "serve"],
        capture_output=True,
        text=True,
        env=_env(),
    )
    assert_one_line_error(
        Result(p.returncode, p.stdout, p.stderr), 1, "admin page is not available"
    )
