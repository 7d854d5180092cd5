"""A PostgreSQL server of the fleet's own (tests/faults/fleet.py), started with the settings a
run needs (max_connections = 100, PostgreSQL's default, for the 60-worker test), on a Unix socket
in a temporary folder, trust authentication, fsync off; stopped and removed on exit whatever the
outcome. The binaries are tests/pg/cluster.sh's (TOKENKEEP_TEST_PG_BIN, else Debian's newest);
as root the server runs as `postgres`, as there.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator


def _bindir() -> str:
    found = (
        os.environ.get("TOKENKEEP_TEST_PG_BIN")
        or (
            sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))[-1:]
            or [""]
        )[0]
    )
    if not found or not os.access(os.path.join(found, "initdb"), os.X_OK):
        raise RuntimeError("PostgreSQL server binaries not found (make setup installs them)")
    return found


@contextlib.contextmanager
def pg_server(max_connections: int) -> Iterator[str]:
    """Yields a libpq URL to the database `fleet` of a fresh server."""
    bindir = _bindir()
    root = os.getuid() == 0
    as_server = ["runuser", "-u", "postgres", "--"] if root else []
    folder = tempfile.mkdtemp(prefix="tokenkeep-fleetpg.")
    data = os.path.join(folder, "data")
    os.chmod(folder, 0o755)
    if root:
        shutil.chown(folder, "postgres", "postgres")
    started = False
    try:
        subprocess.run(
            [*as_server, f"{bindir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"]
            + ["-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
        )
        with socket.socket() as s:  # a port nobody listens on (the socket's name carries it)
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        conf = (
            f"unix_socket_directories = '{folder}'\nport = {port}\nlisten_addresses = ''\n"
            f"fsync = off\nfull_page_writes = off\nmax_connections = {max_connections}\n"
        )
        subprocess.run(
            [*as_server, "sh", "-c", f"cat >> {data}/postgresql.conf"],
            input=conf.encode(),
            check=True,
        )
        subprocess.run(
            [*as_server, f"{bindir}/pg_ctl", "-D", data, "-w", "-t", "60"]
            + ["-l", f"{folder}/server.log", "start"],
            check=True,
            capture_output=True,
        )
        started = True
        subprocess.run(
            [*as_server, f"{bindir}/createdb", "-h", folder, "-p", str(port), "-U", "postgres"]
            + ["fleet"],
            check=True,
        )
        yield f"postgresql://postgres@/fleet?host={folder}&port={port}"
    finally:
        if started:
            subprocess.run(
                [*as_server, f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
                capture_output=True,
            )
        shutil.rmtree(folder, ignore_errors=True)
