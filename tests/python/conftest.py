"""Shared fixtures: a fresh store on a temporary database, a controllable clock, a PostgreSQL
schema; and the markers that let `make check` choose the fast tests (pyproject.toml registers
them: pg, browser, server, slow).

A test is marked `pg` here when it takes the `pg_url` fixture; a fixture that reaches it through
`request.getfixturevalue` marks its PostgreSQL parameter itself (`pytest.param(..., marks=...)`),
and `pg_url` refuses a test that is not marked, so `-m "not pg"` never meets one. A test is
marked `browser` when its module imports Playwright or browser_kit (a test that imports
Playwright inside its body says so itself)."""

from __future__ import annotations

import os
import secrets
import subprocess
from datetime import UTC, datetime

import pytest
import tokenkeep

T0 = datetime(2030, 1, 1, tzinfo=UTC)


PG_FIXTURES = {"pg_url"}


@pytest.fixture(scope="session", autouse=True)
def _runtime_dir(tmp_path_factory):
    """The PostgreSQL stores' host files (relay=True) in a folder of this session, inherited by
    the processes the tests start: not /tmp/tokenkeep-<uid>, shared with other runs."""
    folder = tmp_path_factory.mktemp("runtime")
    folder.chmod(0o700)
    saved = os.environ.get("TOKENKEEP_RUNTIME_DIR")
    os.environ["TOKENKEEP_RUNTIME_DIR"] = str(folder)
    yield folder
    if saved is None:
        os.environ.pop("TOKENKEEP_RUNTIME_DIR", None)
    else:
        os.environ["TOKENKEEP_RUNTIME_DIR"] = saved


def _drives_a_browser(module) -> bool:
    """A test module that imports Playwright, or the tests' browser_kit, drives Chromium."""
    for value in vars(module).values():
        name = getattr(value, "__module__", None) or getattr(value, "__name__", "")
        if isinstance(name, str) and (name.startswith("playwright") or name == "browser_kit"):
            return True
    return False


def pytest_collection_modifyitems(config, items):
    browser_modules: dict[str, bool] = {}
    for item in items:
        if PG_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.pg)
        module = getattr(item, "module", None)
        if module is not None:
            if module.__name__ not in browser_modules:
                browser_modules[module.__name__] = _drives_a_browser(module)
            if browser_modules[module.__name__]:
                item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True)
def _no_ambient_pepper(monkeypatch):
    """Tests choose their pepper explicitly; an exported TOKENKEEP_PEPPER must not leak in."""
    monkeypatch.delenv("TOKENKEEP_PEPPER", raising=False)
    monkeypatch.delenv("TOKENKEEP_PEPPER_PREVIOUS", raising=False)


@pytest.fixture
def db_path(tmp_path) -> str:
    return os.path.join(tmp_path, "tokens.db")


PG_TEST_PEPPER = "7e" * 32


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.pg)])
def db_path_both_backends(request, tmp_path, monkeypatch) -> str:
    """An SQLite file, then a fresh schema of the PostgreSQL test server. A module runs every
    test that takes `db_path` (or `store`) on both with ``db_path = db_path_both_backends``."""
    if request.param == "sqlite":
        return os.path.join(tmp_path, "tokens.db")
    monkeypatch.setenv("TOKENKEEP_PEPPER", PG_TEST_PEPPER)
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(db_path) -> str:
    """db_path under the name the CLI tests pass to the command line (``tk(db, ...)``)."""
    return db_path


@pytest.fixture
def clock(request) -> tokenkeep.ManualClock | None:
    """A ManualClock at the test module's ``CLOCK_START`` (T0 unless the module says), or None,
    the real clock, where a module sets ``CLOCK_START = None`` (the CLI tests: the command
    line runs in a subprocess and reads the real time)."""
    start = getattr(request.module, "CLOCK_START", T0)
    return None if start is None else tokenkeep.ManualClock(start)


@pytest.fixture
def store(db_path, clock):
    with tokenkeep.TokenStore(db_path, clock=clock) as s:
        yield s


@pytest.fixture
def pg_url(request):
    """A libpq URL to a fresh schema on the test server (TOKENKEEP_TEST_PG, which `make test`
    provides by starting a throwaway cluster); dropped afterwards. Fails, never skips, when
    there is no server."""
    assert request.node.get_closest_marker("pg"), (
        f"{request.node.nodeid} uses PostgreSQL but is not marked pg (mark its parameter)"
    )
    url = os.environ.get("TOKENKEEP_TEST_PG")
    assert url, (
        "TOKENKEEP_TEST_PG is not set: these tests need a PostgreSQL server (make test starts one)"
    )
    schema = "tk_py_" + secrets.token_hex(4)
    subprocess.run(["psql", "-q", url, "-c", f"CREATE SCHEMA {schema}"], check=True)
    sep = "&" if "?" in url else "?"
    yield f"{url}{sep}options=-csearch_path%3D{schema}"
    subprocess.run(
        [
            "psql",
            "-q",
            url,
            "-c",
            f"SET client_min_messages = warning; DROP SCHEMA {schema} CASCADE",
        ],
        check=True,
    )
