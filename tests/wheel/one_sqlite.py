"""Python's sqlite3 and tokenkeep use one SQLite library in a process, so closing a tokenkeep
store never drops a lock that a sqlite3 connection of the same process holds.

    one_sqlite.py

A database file's locks are POSIX advisory locks: they belong to the process, and closing any
descriptor of the file drops all of them. SQLite works around that with one table of the
process's open files inside the library; a second copy of SQLite in the process has its own
table, so its close() drops the first copy's locks ("How To Corrupt An SQLite Database File",
section 2.3). The check: a sqlite3 connection takes the write lock (BEGIN IMMEDIATE), a
tokenkeep store opens and closes the same file, and another process must still be refused
the write lock. Exit 0 with "ok: ..." or 1 saying what broke. Run by tests/wheel/check_wheel.sh
on the installed wheel (and against a wheel with SQLite bundled, where it must fail) and by
tests/python/test_store_files.py on the source build.
"""

import os
import sqlite3
import subprocess
import sys
import tempfile

import tokenkeep

PROBE = """
import sqlite3, sys
try:
    sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None).execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as e:
    print(e)
else:
    print("granted")
"""


def sqlite_libraries() -> list[str]:
    """The SQLite shared objects mapped into this process (a statically linked copy, as in
    some Python builds' _sqlite3, does not show here)."""
    with open("/proc/self/maps") as maps:
        paths = {line.split()[-1] for line in maps if "/libsqlite3" in line}
    return sorted(paths)


def write_lock_seen_by_another_process(path: str) -> str:
    return subprocess.run(
        [sys.executable, "-c", PROBE, path], capture_output=True, text=True, check=True
    ).stdout.strip()


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "tokens.db")
        tokenkeep.TokenStore(path).close()  # the schema, in WAL mode
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        before = write_lock_seen_by_another_process(path)
        if before != "database is locked":
            print(f"FAIL: the write lock is not visible to another process at all: {before}")
            return 1
        with tokenkeep.TokenStore(path, read_only=True) as store:
            store.list("nobody")
        after = write_lock_seen_by_another_process(path)
        holder.execute("ROLLBACK")
        holder.close()
    libraries = ", ".join(sqlite_libraries()) or "none mapped (static?)"
    if after != "database is locked":
        print(
            "FAIL: closing a tokenkeep store dropped the write lock a sqlite3 connection of the "
            f"same process held (another process was {after!r}); SQLite libraries: {libraries}"
        )
        return 1
    print(f"ok: one SQLite in the process ({libraries}); a store's close kept sqlite3's lock")
    return 0


if __name__ == "__main__":
    sys.exit(main())
