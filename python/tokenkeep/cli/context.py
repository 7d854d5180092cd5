"""The state of one ``tokenkeep`` run: which database, whose tokens, JSON or not, and the
store, opened once, read-only for commands that only read. Commands get it with
:data:`pass_app`."""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass, field
from typing import Any

import click

from ..errors import InvalidArgument, NotFound
from ..models import TokenInfo
from ..store import TokenStore, default_db_path, store_location_kind
from .exit_codes import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, CliError
from .output import visible
from .secrets_file import looks_like_secret


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no USER/LOGNAME: containers
        raise CliError("cannot tell who you are; pass --owner NAME", EXIT_USAGE) from None


# How a command opens the store, declared by the command itself (see :func:`opens_store`).
READS = "reads"  # read-only: works on a read-only mount, can never change the database
WRITES = "writes"  # read-write, on a database that must already exist
CREATES = "creates"  # read-write, and may start a new database (create, serve)


def opens_store(mode: str) -> Any:
    """Declare how a command opens the store: ``@opens_store(READS)`` above ``@click.command``.
    A command that declares nothing opens it read-write (:data:`WRITES`)."""

    def mark(command: click.Command) -> click.Command:
        command.tokenkeep_store_mode = mode  # type: ignore[attr-defined]
        return command

    return mark


@dataclass
class App:
    """Filled in by the global options (``--db``, ``--owner``, ``--json``) wherever they are."""

    db_opt: str | None = None
    owner_opt: str | None = None
    as_json: bool = False
    _store: TokenStore | None = field(default=None, repr=False)

    @property
    def db(self) -> str:
        return self.db_opt if self.db_opt is not None else default_db_path()

    @property
    def owner(self) -> str:
        return self.owner_opt if self.owner_opt is not None else os_user()

    @property
    def actor(self) -> str:
        try:
            return getpass.getuser()
        except Exception:
            return self.owner

    def store(self) -> TokenStore:
        if self._store is None:
            # Only `create` and `serve` may start a new database: a mistyped --db must not
            # turn into an empty store that calls every good token invalid.
            ctx = click.get_current_context(silent=True)
            command = ctx.command if ctx is not None else None
            mode = getattr(command, "tokenkeep_store_mode", WRITES)
            if (
                mode != CREATES
                and store_location_kind(self.db) == "file"
                and not os.path.exists(self.db)
            ):
                raise CliError(
                    f"no token database at {self.db}; check --db or TOKENKEEP_DB, or create a "
                    "token first with: tokenkeep create --name NAME --scope SCOPE",
                    EXIT_ERROR,
                )
            # One command, a few calls: loading the cache in the background would be waste.
            self._store = TokenStore(self.db, read_only=mode == READS, warm_start=False)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_app = click.make_pass_decorator(App)


def resolve(app: App, token: str, revoked: bool = False) -> TokenInfo:
    """A token of the owner by id, or else by exact name; with ``revoked``, also a revoked
    token by its id (a name may be reused once revoked, an id never is)."""
    if looks_like_secret(token):
        raise CliError(
            "that looks like a token secret, not an id: never pass secrets on the command "
            "line; use the id from 'tokenkeep list'",
            EXIT_USAGE,
        )
    store = app.store()
    try:
        by_id = store.get(app.owner, token)
    except (NotFound, InvalidArgument):
        by_id = None
    wanted = token.strip()
    by_name = next((t for t in store.list(app.owner) if t.name == wanted), None)
    if by_id is not None and by_name is not None and by_id.id != by_name.id:
        raise CliError(
            f"'{visible(token)}' is the id of token '{visible(by_id.name)}' and the name of token "
            f"{by_name.id}; pass the id of the one you mean ({by_id.id} or {by_name.id})",
            EXIT_USAGE,
        )
    found = by_id if by_id is not None else by_name
    if found is None and revoked:
        wanted_id = token.strip()
        found = next((t for t in store.list(app.owner, state="all") if t.id == wanted_id), None)
    if found is not None:
        return found
    raise CliError(
        f"no token with id or name '{token}' for owner '{app.owner}'; "
        "run 'tokenkeep list' to see your tokens",
        EXIT_NOT_FOUND,
    )


def read_text(path: str) -> tuple[str, str]:
    """The file's text and a name for messages; ``-`` is stdin."""
    if path == "-":
        return sys.stdin.read(), "stdin"
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return f.read(), path
    except UnicodeDecodeError:
        raise CliError(f"cannot read {path}: it is not UTF-8 text", EXIT_USAGE) from None
    except OSError as e:
        raise CliError(f"cannot read {path}: {e.strerror}", EXIT_USAGE) from None
