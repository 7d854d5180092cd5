"""The command line as scripts and people meet it (issue 11): global options anywhere, -V,
shell completion, list paging and filters, piped tables, one --json format, flag names in
messages, and rules asked of the engine rather than copied."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import tokenkeep
from test_cli import CLOCK_START, _env, assert_one_line_error, tk, tk_tty, write_csv  # noqa: F401
from tokenkeep import TokenStore

BIN = str(Path(sys.executable).parent)


# -- global options, version ---------------------------------------------------------------


@pytest.mark.slow
def test_global_options_work_before_and_after_the_command(db, store):
    store.create("alice", "mine", {"device"})
    store.create("bob", "bobs", {"device"})
    before = tk(None, "--db", db, "--owner", "alice", "--json", "list", owner=None)
    after = tk(None, "list", "--db", db, "--owner", "alice", "--json", owner=None)
    mixed = tk(None, "--db", db, "list", "--json", "--owner", "alice", owner=None)
    assert before.code == after.code == mixed.code == 0, (before.err, after.err, mixed.err)
    assert [t["name"] for t in json.loads(after.out)] == ["mine"]
    assert json.loads(before.out) == json.loads(after.out) == json.loads(mixed.out)
    # Given twice, the one after the command wins.
    r = tk(None, "--owner", "alice", "list", "--owner", "bob", "--json", "--db", db, owner=None)
    assert [t["name"] for t in json.loads(r.out)] == ["bobs"]
    # every command accepts them
    for command in (
        "show",
        "edit",
        "revoke",
        "rotate",
        "verify",
        "expiring",
        "purge",
        "audit",
        "create",
        "serve",
        "scopes",
        "completion",
    ):
        h = tk(None, command, "--help", owner=None)
        assert h.code == 0 and all(f in h.out for f in ("--db", "--owner", "--json")), command


def test_version_short_and_long_come_from_the_version_file():
    for flag in ("-V", "--version"):
        r = tk(None, flag, owner=None)
        assert r.code == 0 and r.out == f"tokenkeep {tokenkeep.__version__}\n", r


# -- completion ----------------------------------------------------------------------------


def _complete(words, env):
    """COMPREPLY of the bash script `tokenkeep completion bash` prints, for `words`."""
    script = (
        'eval "$(tokenkeep completion bash)"\n'
        f"COMP_WORDS=({' '.join(words)}); COMP_CWORD={len(words) - 1}\n"
        "_tokenkeep_completion tokenkeep\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    p = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env({"PATH": BIN + os.pathsep + os.environ["PATH"], **env}),
    )
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


@pytest.mark.slow
def test_bash_completion_completes_commands_options_scopes_and_names(tmp_path):
    db = str(tmp_path / "fleet.db")
    with TokenStore(db, vocabulary=["fleet:read,write,admin", "device"]) as s:
        s.create("alice", "fleet-admin", {"fleet:admin"})
        s.create("alice", "reader", {"device:read"})
    env = {"TOKENKEEP_DB": db}
    assert _complete(["tokenkeep", "li"], env) == ["list"]
    assert set(_complete(["tokenkeep", "c"], env)) == {"create", "completion"}
    assert "--expires-in" in _complete(["tokenkeep", "create", "--exp"], env)
    assert _complete(["tokenkeep", "list", "--st"], env) == ["--state"]
    # scopes come from this store's vocabulary, not a list in the CLI
    assert _complete(["tokenkeep", "create", "--scope", "fl"], env) == [
        "fleet",
        "fleet:read",
        "fleet:write",
        "fleet:admin",
    ]
    assert _complete(["tokenkeep", "edit", "x", "--scope", "device,dev"], env) == [
        "device,device",
        "device,device:read",
        "device,device:write",
    ]
    # --db on the line is honoured too, and names are the owner's tokens
    names = _complete(["tokenkeep", "--db", db, "--owner", "alice", "show", ""], {})
    assert set(names) == {"fleet-admin", "reader"}
    assert _complete(["tokenkeep", "--owner", "alice", "revoke", "fl"], env) == ["fleet-admin"]
    # no database: nothing to complete, and no traceback in the prompt
    assert (
        _complete(["tokenkeep", "create", "--scope", ""], {"TOKENKEEP_DB": str(tmp_path / "no.db")})
        == []
    )


def test_zsh_and_fish_scripts_are_printed():
    zsh = tk(None, "completion", "zsh", owner=None)
    fish = tk(None, "completion", "fish", owner=None)
    assert zsh.code == 0 and "compdef _tokenkeep_completion tokenkeep" in zsh.out
    assert fish.code == 0 and "complete --no-files --command tokenkeep" in fish.out
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n", "-c", zsh.out]).returncode == 0
    assert_one_line_error(tk(None, "completion", "tcsh", owner=None), 2, "tcsh")


# -- list: paging, filters, piped and terminal tables --------------------------------------


@pytest.mark.slow
def test_list_pages_on_a_terminal_and_prints_everything_when_piped(db, store):
    store.create_many("alice", [(f"t-{i:03d}", ["device"]) for i in range(120)])
    piped = tk(db, "list")
    assert piped.code == 0 and len(piped.out.splitlines()) == 120 and piped.err == ""
    tty = tk_tty(db, "list")
    rows = tty.out.splitlines()
    assert rows[0].startswith("ID") and len(rows) == 51  # header + one page of 50
    assert "Showing 1-50 of 120 tokens" in tty.err and "--offset 50" in tty.err
    assert len(tk_tty(db, "list", "--limit", "0").out.splitlines()) == 121
    assert len(tk(db, "list", "--limit", "7").out.splitlines()) == 7
    second = tk(db, "--json", "list", "--limit", "50", "--offset", "50")
    assert len(json.loads(second.out)) == 50
    assert len(json.loads(tk(db, "list", "--json").out)) == 120  # --json: all, as piped


@pytest.mark.slow
def test_list_filters_by_state_search_scope_and_lists_every_owner(db, store):
    store.create("alice", "deploy-prod", {"device"})
    store.create("alice", "Deploy-Staging", {"policy:read"})
    gone = store.create("alice", "old", {"device"})
    store.revoke("alice", gone.info.id)
    store.create("bob", "bobs-deploy", {"device"})

    def names(*args, owner="alice"):
        r = tk(db, "--json", "list", *args, owner=owner)
        assert r.code == 0, r.err
        return sorted(t["name"] for t in json.loads(r.out))

    assert names() == ["Deploy-Staging", "deploy-prod"]
    assert names("--search", "DEPLOY") == ["Deploy-Staging", "deploy-prod"]
    assert names("--scope", "policy:read") == ["Deploy-Staging"]
    assert names("--scope", "policy:read,device") == ["Deploy-Staging", "deploy-prod"]
    assert names("--state", "inactive") == ["old"]
    assert names("--state", "all") == ["Deploy-Staging", "deploy-prod", "old"]
    assert names("--all-owners", "--search", "deploy") == [
        "Deploy-Staging",
        "bobs-deploy",
        "deploy-prod",
    ]
    everyone = tk_tty(db, "list", "--all-owners")
    assert everyone.out.splitlines()[0].split()[:3] == ["ID", "OWNER", "NAME"]
    assert "bob" in everyone.out
    # a scope outside the vocabulary: the engine's message, naming the flag in JSON
    r = tk(db, "--json", "list", "--scope", "devic")
    assert r.code == 2 and r.out == ""
    err = json.loads(r.err)["error"]
    assert err["field"] == "--scope" and "did you mean 'device'?" in err["message"]
    assert "No tokens for alice match" in tk(db, "list", "--search", "zzz").err


def test_piped_rows_are_tab_separated_without_padding_or_header(db, store):
    t = store.create("alice", "ci deploy", {"device:read", "policy"}, expires_in=timedelta(days=3))
    r = tk(db, "list")
    (line,) = r.out.splitlines()
    fields = line.split("\t")
    assert fields[:3] == [t.info.id, "ci deploy", "device:read,policy"]
    assert fields[3] == t.info.created_at.isoformat() and fields[4] == t.info.expires_at.isoformat()
    assert fields[5] == ""  # never used
    assert "  " not in line


def test_long_names_and_scopes_wrap_on_a_narrow_terminal_and_are_never_cut(db, store):
    long_name = "a-very-long-token-name-for-the-device-reader-service-in-production"
    store.create("alice", long_name, {"device:read", "policy:write", "collection"})
    r = tk_tty(db, "list", columns=70)
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert all(len(line) <= 70 for line in lines), lines
    assert "…" not in r.out and "..." not in r.out
    col = lines[0].index("NAME")
    scopes_col = lines[0].index("SCOPES")
    name = "".join(line[col:scopes_col].strip() for line in lines[1:])
    scopes = "".join(line[scopes_col:].split("  ")[0].strip() for line in lines[1:])
    assert name == long_name and scopes == "collection,device:read,policy:write"


@pytest.mark.slow
def test_the_table_on_a_terminal_says_in_30_days_and_marks_expired_in_red(db, store):
    store.create("alice", "fresh", {"device"}, expires_in=timedelta(days=30))
    r = tk_tty(db, "list")
    assert "in 30 days" in r.out and "in 29 days" not in r.out
    # colour only on a terminal and never with NO_COLOR
    assert "\x1b[" not in tk(db, "list").out


# -- one --json format; messages name flags --------------------------------------------------


@pytest.mark.slow
def test_every_command_prints_one_json_document_and_errors_as_json_on_stderr(db, store, tmp_path):
    issued = store.create("alice", "ci", {"device"})
    docs = {
        "show": tk(db, "--json", "show", "ci"),
        "list": tk(db, "list", "--json"),
        "expiring": tk(db, "expiring", "--within", "40d", "--json"),
        "audit": tk(db, "audit", "--json"),
        "scopes": tk(db, "scopes", "--json"),
        "edit": tk(db, "edit", "ci", "--scope", "device,policy", "--json"),
        "purge": tk(db, "purge", "--dry-run", "--json"),
        "verify": tk(db, "verify", "--json", input=issued.secret),
        "create": tk(db, "create", "--name", "new", "--scope", "device", "--json"),
    }
    for name, r in docs.items():
        assert r.code == 0, (name, r.err)
        json.loads(r.out)  # exactly one document
    for name in ("list", "expiring", "audit", "scopes"):
        assert isinstance(json.loads(docs[name].out), list), name
    assert json.loads(docs["show"].out)["id"] == issued.info.id
    assert set(json.loads(docs["create"].out)) == {"secret", "token"}
    failures = [
        (tk(db, "show", "nope", "--json"), 7, "not_found", None),
        (tk(db, "--json", "create", "--name", "x", "--scope", "gadget"), 2, "usage", "--scope"),
        (
            tk(
                db,
                "--json",
                "create",
                "--name",
                "x",
                "--scope",
                "device",
                "--expires-at",
                "2020-01-01",
            ),
            2,
            "usage",
            "--expires-at",
        ),
        (
            tk(db, "--json", "create", "--name", "ci", "--scope", "device"),
            8,
            "name_taken",
            "--name",
        ),
        (tk(db, "--json", "list", "--bogus"), 2, "usage", None),
        (tk(db, "--json", "verify", input="tk_garbage"), 3, "invalid_token", None),
        (tk(str(tmp_path / "none.db"), "--json", "list"), 1, "error", None),
    ]
    for r, code, name, field in failures:
        assert r.code == code and r.out == "", (r.code, r.out, r.err)
        (line,) = r.err.splitlines()
        err = json.loads(line)
        assert set(err) == {"error"} and err["error"]["code"] == name, err
        assert err["error"]["field"] == field and err["error"]["message"], err


def test_bulk_create_with_json_prints_one_array(db, store, tmp_path):
    src = write_csv(tmp_path / "two.csv", [["a", "device", ""], ["b", "policy", ""]])
    r = tk(db, "--json", "create", "--from", src)
    assert r.code == 0, r.err
    issued = json.loads(r.out)
    assert [set(x) for x in issued] == [{"secret", "token"}] * 2
    assert store.verify(issued[1]["secret"]).name == "b"
    src = write_csv(tmp_path / "more.csv", [["c", "device", ""]])
    r = tk(db, "create", "--from", src, "--secrets-out", str(tmp_path / "s.jsonl"), "--json")
    assert r.code == 0 and [t["name"] for t in json.loads(r.out)] == ["c"] and "secret" not in r.out


@pytest.mark.slow
def test_messages_name_cli_flags_not_python_parameters(db, store):
    cases = [
        (
            ["create", "--name", "x", "--scope", "device", "--expires-at", "2020-01-01"],
            "--expires-at",
        ),
        (["create", "--name", "x", "--scope", "device", "--expires-in", "0s"], "--expires-in"),
        (["create", "--name", "", "--scope", "device"], "--name"),
        (["create", "--name", "x", "--scope", ""], "--scope"),
    ]
    for args, flag in cases:
        r = tk(db, *args)
        assert_one_line_error(r, 2, flag)
        if "-" in flag.lstrip("-"):  # the Python spelling (expires_at) never shows
            assert flag.lstrip("-").replace("-", "_") not in r.err, r.err


# -- rules come from the engine ------------------------------------------------------------


@pytest.mark.slow
def test_bulk_rows_are_checked_by_the_engine_with_the_line_named(db, store, tmp_path):
    """The CLI kept its own name check, which let C1 controls through; now every row is
    judged by the engine, and the failing line is found only after the batch failed."""
    store.create("alice", "existing", {"device"})
    good = [[f"ok-{i}", "device", ""] for i in range(5)]
    cases = [
        (good + [["a\u0085b", "device", ""]], 2, "line 7: a token name must not contain control"),
        (good + [["x", "devic", ""]], 2, "line 7: unknown scope 'devic' (did you mean 'device'?)"),
        (good + [["ok-1", "device", ""]], 2, "also on line 3"),
        (good + [["existing", "device", ""]], 8, "'existing' already exists"),
    ]
    for n, (rows, code, fragment) in enumerate(cases):
        r = tk(db, "create", "--from", write_csv(tmp_path / f"c{n}.csv", rows))
        assert_one_line_error(r, code, fragment)
        assert [t.name for t in store.list("alice")] == ["existing"]


def test_no_copy_of_an_engine_rule_in_the_cli():
    root = Path(tokenkeep.__file__).parent / "cli"
    text = "\n".join(p.read_text() for p in root.rglob("*.py"))
    for copied in (
        "_check_name",
        "_check_scopes",
        ":read or :write",
        "len(name) > 100",
        "ord(c) < 32",
        "collection, device, policy",
    ):
        assert copied not in text, copied


def test_the_scopes_command_lists_the_stores_vocabulary(tmp_path):
    db = str(tmp_path / "v.db")
    TokenStore(db, vocabulary=["fleet:read,admin"]).close()
    r = tk(db, "scopes")
    assert r.code == 0 and r.out == "fleet\tread, admin\n"
    assert json.loads(tk(db, "--json", "scopes").out) == [
        {"name": "fleet", "actions": ["read", "admin"]}
    ]


def test_a_taken_name_is_the_same_json_error_on_sqlite_and_postgresql(db, store, pg_url):
    """The engine's NameTaken is one error on every backend (code, message, field), so the
    --json error a script parses does not depend on where the tokens live."""
    pepper = "5a" * 32
    store.create("alice", "ci", {"device"})
    with TokenStore(pg_url, pepper=pepper) as pg:
        pg.create("alice", "ci", {"device"})
    args = ("--json", "create", "--name", "ci", "--scope", "device")
    on_sqlite = tk(db, *args)
    on_pg = tk(pg_url, *args, env={"TOKENKEEP_PEPPER": pepper})
    for r in (on_sqlite, on_pg):
        assert r.code == 8, (r.code, r.out, r.err)
        assert r.out == "", r.out
    errors = [json.loads(r.err) for r in (on_sqlite, on_pg)]
    assert errors[0] == errors[1], errors
    assert errors[0]["error"]["code"] == "name_taken"
    assert errors[0]["error"]["field"] == "--name"
    assert errors[0]["error"]["message"].startswith("a token named 'ci' already exists")


def test_a_date_alone_means_its_last_second_utc_on_the_cli_and_the_page():
    """One rule (tokenkeep._time.day_end) for the CLI's dates, its CSV column and the page's
    custom date: the same date gives the same expiry everywhere."""
    from datetime import datetime

    from tokenkeep.cli.argtypes import parse_date, parse_expiry
    from tokenkeep.web.view import expiry_from

    last_second = datetime(2027, 1, 31, 23, 59, 59, tzinfo=UTC)
    assert parse_date("2027-01-31") == last_second
    assert parse_expiry("2027-01-31") == last_second
    assert expiry_from("custom", "2027-01-31") == ({"expires_at": last_second}, "")


@pytest.mark.slow
def test_list_state_live_keeps_expired_tokens_that_active_leaves_out(db, store):
    store.create("alice", "current", {"device"})
    store.create("alice", "lapsed", {"device"}, expires_in=timedelta(seconds=1))
    gone = store.create("alice", "revoked", {"device"})
    store.revoke("alice", gone.info.id)
    time.sleep(1.2)  # the CLI runs on the real clock: let "lapsed" expire

    def names(state):
        r = tk(db, "--json", "list", "--state", state, owner="alice")
        assert r.code == 0, r.err
        return sorted(t["name"] for t in json.loads(r.out))

    assert names("active") == ["current"]
    assert names("live") == ["current", "lapsed"]  # what store.list("alice") returns
    assert names("live") == sorted(t.name for t in store.list("alice"))
    assert names("inactive") == ["lapsed", "revoked"]
