"""PgBouncer (Debian's `pgbouncer` package, mk/postgres.mk) in transaction mode in front of the
test server (TOKENKEEP_TEST_PG), for test_pg_bouncer.py: a fresh database on the server (its
tables in `public`, since PgBouncer cannot pass `options=-csearch_path`), PgBouncer on a
loopback port with trust authentication and `server_pool` server connections, stopped and
removed on exit. As root PgBouncer runs as `postgres` (it refuses root)."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass

from psycopg.conninfo import conninfo_to_dict

PGBOUNCER = "/usr/sbin/pgbouncer"


@dataclass
class Bouncer:
    url: str  # through PgBouncer
    direct: str  # the same database, straight to the server
    dbname: str


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def pgbouncer(server_pool: int) -> Iterator[Bouncer]:
    url = os.environ.get("TOKENKEEP_TEST_PG")
    assert url, "TOKENKEEP_TEST_PG is not set: these tests need a PostgreSQL server"
    assert os.access(PGBOUNCER, os.X_OK), "pgbouncer is not installed (make setup installs it)"
    params = conninfo_to_dict(url)
    host, port = params.get("host", ""), params.get("port", "5432")
    dbname = "tk_bouncer_" + secrets.token_hex(4)
    subprocess.run(["psql", "-q", url, "-c", f"CREATE DATABASE {dbname}"], check=True)
    folder = tempfile.mkdtemp(prefix="tokenkeep-bouncer.")
    root = os.getuid() == 0
    as_user = ["runuser", "-u", "postgres", "--"] if root else []
    listen = _free_port()
    proc = None
    try:
        with open(os.path.join(folder, "users.txt"), "w") as f:
            f.write('"postgres" ""\n')
        with open(os.path.join(folder, "pgbouncer.ini"), "w") as f:
            f.write(
                f"[databases]\n{dbname} = host={host} port={port} dbname={dbname}\n"
                f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen}\n"
                f"unix_socket_dir =\nauth_type = trust\nauth_file = {folder}/users.txt\n"
                f"pool_mode = transaction\ndefault_pool_size = {server_pool}\n"
                f"max_client_conn = 500\nignore_startup_parameters = extra_float_digits\n"
                f"logfile = {folder}/pgbouncer.log\n"
            )
        if root:
            shutil.chown(folder, "postgres", "postgres")
            for name in os.listdir(folder):
                shutil.chown(os.path.join(folder, name), "postgres", "postgres")
        proc = subprocess.Popen([*as_user, PGBOUNCER, "-q", os.path.join(folder, "pgbouncer.ini")])
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", listen)) == 0:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "pgbouncer did not start"
            time.sleep(0.05)
        sep = "&" if "?" in url else "?"
        direct = url.replace("/tokenkeep_test", f"/{dbname}", 1)
        yield Bouncer(
            url=f"postgresql://postgres@127.0.0.1:{listen}/{dbname}?sslmode=disable",
            direct=direct if direct != url else f"{url}{sep}dbname={dbname}",
            dbname=dbname,
        )
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(
            ["psql", "-q", url, "-c", f"DROP DATABASE IF EXISTS {dbname} WITH (FORCE)"],
            check=False,
        )
