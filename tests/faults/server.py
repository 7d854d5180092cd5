"""The PostgreSQL server under test: the throwaway cluster of tests/pg/cluster.sh, which exports
TOKENKEEP_TEST_PG (its URL), TOKENKEEP_TEST_PG_DIR and TOKENKEEP_TEST_PG_BIN, so the harness
can kill it and start it again. As root the server runs as `postgres` (runuser), as there.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from .proxy import Upstream


def _running(pid: int) -> bool:
    """True while the process exists and is not a zombie (the postmaster is not our child, and
    whoever reaps it may take a second or two)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class PgServer:
    """Where the server is, how to reach it directly, and how to kill and restart it."""

    def __init__(self) -> None:
        url = os.environ.get("TOKENKEEP_TEST_PG")
        pgdir = os.environ.get("TOKENKEEP_TEST_PG_DIR")
        bindir = os.environ.get("TOKENKEEP_TEST_PG_BIN")
        if not (url and pgdir and bindir):
            raise RuntimeError(
                "the fault harness needs the cluster of tests/pg/cluster.sh "
                "(TOKENKEEP_TEST_PG, TOKENKEEP_TEST_PG_DIR, TOKENKEEP_TEST_PG_BIN): "
                "run it under `tests/pg/cluster.sh run ...` (make test and make chaos do)"
            )
        self.url = url
        self.data = os.path.join(pgdir, "data")
        self.log = os.path.join(pgdir, "server.log")
        self.bindir = bindir
        params = conninfo_to_dict(url)
        self.user = params.get("user", "postgres")
        self.dbname = params.get("dbname", "postgres")
        host, port = params.get("host", ""), int(params.get("port", 5432))
        # What a proxy forwards to: the server's Unix socket, or its TCP address.
        self.upstream: Upstream = (
            f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)
        )
        self.kills = 0
        self.down = False  # killed by this harness and not started again yet

    def url_via(self, host: str, port: int, schema: str) -> str:
        """A URL to this server through a proxy at host:port, in `schema`. No timeouts of its
        own: the store's defaults are what is under test."""
        opts = quote(f"-csearch_path={schema}", safe="")
        return (
            f"postgresql://{self.user}@{host}:{port}/{self.dbname}?sslmode=disable&options={opts}"
        )

    def url_direct(self, schema: str) -> str:
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options={quote(f'-csearch_path={schema}', safe='')}"

    def schema_new(self) -> str:
        schema = "tk_faults_" + secrets.token_hex(4)
        with psycopg.connect(self.url, autocommit=True) as c:
            c.execute(f"CREATE SCHEMA {schema}")
        return schema

    def schema_drop(self, schema: str) -> None:
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as c:
            c.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")

    def postmaster_pid(self) -> int | None:
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def kill(self) -> float:
        """Crashes the server now (SIGQUIT to the postmaster: an immediate shutdown, whatever
        is not yet in the WAL on disk is lost) and waits until it is gone; returns when the
        signal was sent (time.monotonic())."""
        pid = self.postmaster_pid()
        if pid is None:
            raise RuntimeError("the server is not running")
        sent = time.monotonic()
        self.down = True
        os.kill(pid, signal.SIGQUIT)
        self.kills += 1
        deadline = time.monotonic() + 30
        while _running(pid) and time.monotonic() < deadline:
            time.sleep(0.002)
        return sent

    def start(self) -> float:
        """Starts the server and waits until it accepts connections; returns how long it took."""
        t0 = time.monotonic()
        self._pg_ctl("-l", self.log, "start")
        self.down = False
        return time.monotonic() - t0

    def set(self, name: str, value: str | None) -> None:
        """ALTER SYSTEM SET name = value (None: RESET), then reload the configuration."""
        with psycopg.connect(self.url, autocommit=True, connect_timeout=10) as c:
            if value is None:
                c.execute(f"ALTER SYSTEM RESET {name}")
            else:
                c.execute(f"ALTER SYSTEM SET {name} = '{value}'")
            c.execute("SELECT pg_reload_conf()")

    def stop_immediate(self) -> None:
        self.down = True
        self._pg_ctl("-m", "immediate", "stop")
        self.kills += 1

    def _pg_ctl(self, *args: str) -> None:
        cmd = [f"{self.bindir}/pg_ctl", "-D", self.data, "-w", "-t", "60", *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=90)

    def ensure_running(self) -> None:
        """Starts the server again if this harness killed it. Never one that someone else
        stopped: cluster.sh tearing the cluster down must not see it come back."""
        if self.down:
            self.start()
