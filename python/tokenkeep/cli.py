"""The ``tokenkeep`` command line (also ``python -m tokenkeep``).

Tables for people, ``--json`` for scripts, and exit codes a script can branch on
(:data:`EXIT_CODES`). A secret is printed once, to stdout only, by ``create`` and ``rotate``;
``verify`` reads it from stdin or ``TOKENKEEP_TOKEN``, never from argv, which every user
can read with ``ps``. No secret ever appears in an error message.

    $ tokenkeep create --name ci-deploy --scope device --scope policy --expires-in 30d
    $ tokenkeep list
    $ echo "$TOKEN" | tokenkeep verify --scope device:read && echo ok
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import os
import re
import sys
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import IO, Any, Dict, List, NoReturn, Optional, Sequence, Tuple, Union

import click

from .errors import (
    ExpiredToken,
    InsufficientScope,
    InvalidArgument,
    InvalidToken,
    NameTaken,
    NotFound,
    RevokedToken,
    StoreError,
    TokenkeepError,
    UnknownScope,
)
from .jupyter import format_datetime, relative_time
from .models import AuditEvent, IssuedToken, TokenInfo
from .store import TokenStore, default_db_path, store_location_kind

__all__ = ["main", "cli", "EXIT_CODES"]

# -- exit codes: stable, documented in --help and the README ---------------------------------

EXIT_OK = 0
EXIT_ERROR = 1  # the database cannot be used, an I/O error, a declined confirmation
EXIT_USAGE = 2  # bad command line or input: unknown option, bad date, unknown scope, bad file
EXIT_INVALID = 3  # verify: malformed, mistyped or unknown token
EXIT_EXPIRED = 4  # verify: the token has expired
EXIT_REVOKED = 5  # verify: the token has been revoked
EXIT_SCOPE = 6  # verify: the token lacks a required scope
EXIT_NOT_FOUND = 7  # no such token for this owner
EXIT_NAME_TAKEN = 8  # the owner already has a live token with this name

EXIT_CODES = {
    EXIT_OK: "success (verify: the token is valid and has every --scope)",
    EXIT_ERROR: "error: the database cannot be used, I/O error, confirmation declined",
    EXIT_USAGE: "usage: bad option, date, duration, scope, name or input file",
    EXIT_INVALID: "verify: invalid token (malformed, mistyped, unknown)",
    EXIT_EXPIRED: "verify: token expired",
    EXIT_REVOKED: "verify: token revoked",
    EXIT_SCOPE: "verify: token lacks a required scope",
    EXIT_NOT_FOUND: "no such token for this owner",
    EXIT_NAME_TAKEN: "a live token with this name already exists",
}

_EXIT_HELP = "\b\nExit codes:\n" + "\n".join(
    f"  {code}  {text}" for code, text in EXIT_CODES.items()
)

_ERROR_CODES: Sequence[Tuple[type, int]] = (
    (InvalidToken, EXIT_INVALID),
    (ExpiredToken, EXIT_EXPIRED),
    (RevokedToken, EXIT_REVOKED),
    (InsufficientScope, EXIT_SCOPE),
    (NotFound, EXIT_NOT_FOUND),
    (NameTaken, EXIT_NAME_TAKEN),
    (UnknownScope, EXIT_USAGE),
    (InvalidArgument, EXIT_USAGE),
)

_CSV_COLUMNS = ("name", "scopes", "expires")
_MAX_TOKEN_INPUT = 4096


class CliError(Exception):
    """An error to report as one line on stderr, with an exit code."""

    def __init__(self, message: str, code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.code = code


# -- parsing dates, durations and scopes -----------------------------------------------------

_DURATION_PART = re.compile(r"(\d+)\s*(min|mo|[smhdwy])", re.IGNORECASE)
_DURATION = re.compile(r"^\s*(?:\d+\s*(?:min|mo|[smhdwy])\s*)+$", re.IGNORECASE)
# A month is 30 days. A bare "m" is refused: people mean a month about as often as a minute.
_UNIT_SECONDS = {
    "s": 1, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "mo": 30 * 86400, "y": 365 * 86400,
}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``1d12h``, ``90min``, ``3mo`` (30 days each), ``45s`` or
    ``1y`` (365 days). A bare ``m`` is refused as ambiguous (minutes or months?)."""
    if not _DURATION.match(text):
        raise ValueError(
            f"bad duration '{text}': use a number and a unit (s, min, h, d, w, mo, y), e.g. 30d, 12h, 3mo"
        )
    parts = _DURATION_PART.findall(text)
    for n, u in parts:
        if u.lower() == "m":
            raise ValueError(
                f"ambiguous duration '{text}': write {n}min for minutes or {n}mo for months (30 days)"
            )
    seconds = sum(int(n) * _UNIT_SECONDS[u.lower()] for n, u in parts)
    try:
        return timedelta(seconds=seconds)
    except OverflowError:
        raise ValueError(f"bad duration '{text}': too long") from None


def parse_date(text: str) -> datetime:
    """An ISO 8601 date or date-time. A date alone means the end of that day in UTC; a
    date-time without an offset is taken as UTC."""
    s = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            return datetime.combine(date.fromisoformat(s), time(23, 59, 59), timezone.utc)
        dt = datetime.fromisoformat(s[:-1] + "+00:00" if s[-1:] in ("Z", "z") else s)
    except (ValueError, IndexError):
        raise ValueError(
            f"bad date '{text}': use ISO 8601, e.g. 2027-01-31 or 2027-01-31T18:00:00+02:00"
        ) from None
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def parse_expiry(text: str) -> Union[timedelta, datetime]:
    """A duration (``30d``) or a date (``2027-01-31``), as the ``expires`` CSV column holds."""
    if _DURATION.match(text):
        return parse_duration(text)
    try:
        return parse_date(text)
    except ValueError:
        raise ValueError(
            f"bad expiry '{text}': use a duration such as 30d or an ISO 8601 date such as 2027-01-31"
        ) from None


def split_scopes(values: Sequence[str]) -> List[str]:
    """Scopes given as repeated options and/or separated by commas, spaces, ``;`` or ``|``."""
    out: List[str] = []
    for v in values:
        out.extend(s for s in re.split(r"[\s,;|]+", v) if s)
    return out


class _Duration(click.ParamType):
    name = "DURATION"

    def convert(self, value: Any, param: Any, ctx: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


class _Date(click.ParamType):
    name = "DATE"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            return parse_date(value)
        except ValueError as e:
            self.fail(str(e), param, ctx)


DURATION = _Duration()
DATE = _Date()


# -- output ----------------------------------------------------------------------------------


def token_json(t: TokenInfo) -> Dict[str, Any]:
    """The stable JSON form of a token (dates ISO 8601, scopes sorted)."""
    return {
        "id": t.id,
        "owner": t.owner,
        "name": t.name,
        "scopes": sorted(t.scopes),
        "created_at": t.created_at.isoformat(),
        "expires_at": None if t.expires_at is None else t.expires_at.isoformat(),
        "last_used_at": None if t.last_used_at is None else t.last_used_at.isoformat(),
    }


def event_json(e: AuditEvent) -> Dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "action": e.action,
        "token_id": e.token_id,
        "owner": e.owner,
        "name": e.name,
        "old_scopes": sorted(e.old_scopes),
        "new_scopes": sorted(e.new_scopes),
        "detail": e.detail,
    }


def issued_json(t: IssuedToken) -> Dict[str, Any]:
    return {"secret": t.secret, "token": token_json(t.info)}


def _print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def _info(message: str) -> None:
    """A line for the person at the terminal: stderr, so stdout stays clean for pipes."""
    click.echo(message, err=True)


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for grep and friends: do not wrap rows at 80 columns.
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=240 if wide else None)


def _scopes_text(scopes: Any) -> str:
    return ", ".join(sorted(scopes))


def _expiry_text(t: TokenInfo, now: datetime) -> str:
    if t.expires_at is None:
        return "never"
    if t.expires_at <= now:
        return f"expired {relative_time(t.expires_at, now)}"
    return relative_time(t.expires_at, now)


def _print_tokens(tokens: Sequence[TokenInfo], show_owner: bool = False) -> None:
    from rich.table import Table

    now = datetime.now(timezone.utc)
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("ID", no_wrap=True)
    if show_owner:
        table.add_column("OWNER")
    table.add_column("NAME")
    table.add_column("SCOPES")
    table.add_column("CREATED", no_wrap=True)
    table.add_column("EXPIRES", no_wrap=True)
    table.add_column("LAST USED", no_wrap=True)
    for t in tokens:
        expired = t.expires_at is not None and t.expires_at <= now
        row = [t.id] + ([t.owner] if show_owner else []) + [t.name, _scopes_text(t.scopes)]
        row = [_markup_safe(c) for c in row] + [
            t.created_at.strftime("%Y-%m-%d"),
            f"[red]{_expiry_text(t, now)}[/red]" if expired else _expiry_text(t, now),
            relative_time(t.last_used_at, now),
        ]
        table.add_row(*row)
    _console().print(table)


def _markup_safe(text: str) -> str:
    """Text for a rich table cell: markup escaped, and every invisible or control character
    (bidi overrides, zero-width characters, line breaks) shown as ``\\uXXXX``, so a row can
    neither hide characters nor reorder what the terminal shows."""
    from rich.markup import escape

    return escape(_visible(text))


def _visible(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _print_token_details(t: TokenInfo, err: bool = False) -> None:
    from rich.table import Table

    now = datetime.now(timezone.utc)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    exp = (
        "never"
        if t.expires_at is None
        else f"{format_datetime(t.expires_at)} ({_expiry_text(t, now)})"
    )
    for k, v in (
        ("Name", t.name),
        ("ID", t.id),
        ("Owner", t.owner),
        ("Scopes", _scopes_text(t.scopes)),
        ("Created", f"{format_datetime(t.created_at)} ({relative_time(t.created_at, now)})"),
        ("Expires", exp),
        (
            "Last used",
            "never"
            if t.last_used_at is None
            else f"{format_datetime(t.last_used_at)} ({relative_time(t.last_used_at, now)})",
        ),
    ):
        table.add_row(k, _markup_safe(v))
    _console(stderr=err).print(table)


def _describe(t: TokenInfo) -> str:
    now = datetime.now(timezone.utc)
    exp = (
        "never expires"
        if t.expires_at is None
        else (f"expires {format_datetime(t.expires_at)} ({_expiry_text(t, now)})")
    )
    return f"'{t.name}' (id {t.id}), scopes {_scopes_text(t.scopes)}, {exp}"


def _progress(enabled: bool) -> Any:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=_console(stderr=True),
        transient=True,
        disable=not enabled,
    )


def _open_secrets_file(path: str) -> IO[str]:
    """A new file readable only by its owner (0600); an existing file is never overwritten."""
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600
        )
    except FileExistsError:
        raise CliError(
            f"{path} already exists; give --secrets-out a new file (secrets are never "
            "written over an existing file)",
            EXIT_USAGE,
        ) from None
    except OSError as e:
        raise CliError(f"cannot create {path}: {e.strerror}", EXIT_ERROR) from None
    os.fchmod(fd, 0o600)
    return io.open(fd, "w", encoding="utf-8", newline="\n")


def _write_secrets(out: IO[str], issued: Sequence[IssuedToken]) -> None:
    for t in issued:
        out.write(json.dumps(issued_json(t), ensure_ascii=False))
        out.write("\n")


# -- application state -----------------------------------------------------------------------


def _os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no USER/LOGNAME: containers
        raise CliError("cannot tell who you are; pass --owner NAME", EXIT_USAGE) from None


_MAY_CREATE_DB = {"create", "serve"}
# Commands that only read: they open the store read-only, so they work on a read-only mount
# or a copy an operator may not write, and can never change the database by accident.
_READ_ONLY = {"list", "show", "verify", "expiring", "audit"}


@dataclass
class App:
    db: str
    owner_opt: Optional[str]
    as_json: bool
    _store: Optional[TokenStore] = field(default=None, repr=False)

    @property
    def owner(self) -> str:
        return self.owner_opt if self.owner_opt is not None else _os_user()

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
            command = ctx.info_name if ctx is not None else None
            if (
                command not in _MAY_CREATE_DB
                and store_location_kind(self.db) == "file"
                and not os.path.exists(self.db)
            ):
                raise CliError(
                    f"no token database at {self.db}; check --db or TOKENKEEP_DB, or create a "
                    "token first with: tokenkeep create --name NAME --scope SCOPE",
                    EXIT_ERROR,
                )
            self._store = TokenStore(self.db, read_only=command in _READ_ONLY)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


pass_app = click.make_pass_decorator(App)


def _json_option(f: Any) -> Any:
    """``--json`` after the command as well as before it: ``tokenkeep list --json``."""

    def set_json(ctx: click.Context, param: Any, value: bool) -> None:
        if value:
            ctx.find_object(App).as_json = True

    return click.option(
        "--json",
        "json_",
        is_flag=True,
        expose_value=False,
        callback=set_json,
        help="Machine-readable JSON on stdout.",
    )(f)


_SECRET_LIKE = re.compile(r"[a-z0-9]{1,16}_[A-Za-z0-9]{40,}")


def _looks_like_secret(text: str) -> bool:
    return bool(_SECRET_LIKE.fullmatch(text.strip()))


def _resolve(app: App, token: str) -> TokenInfo:
    """A token of the owner by id, or else by exact name."""
    if _looks_like_secret(token):
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
            f"'{_visible(token)}' is the id of token '{_visible(by_id.name)}' and the name of token "
            f"{by_name.id}; pass the id of the one you mean ({by_id.id} or {by_name.id})",
            EXIT_USAGE,
        )
    if by_id is not None or by_name is not None:
        return by_id or by_name
    raise CliError(
        f"no token with id or name '{token}' for owner '{app.owner}'; "
        "run 'tokenkeep list' to see your tokens",
        EXIT_NOT_FOUND,
    )


# -- commands --------------------------------------------------------------------------------


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=_EXIT_HELP,
)
@click.option(
    "--db",
    metavar="PATH",
    default=None,
    help="The token database (default: $TOKENKEEP_DB, else ~/.local/share/tokenkeep/tokens.db).",
)
@click.option(
    "--owner",
    metavar="NAME",
    default=None,
    help="Whose tokens to work on (default: the current OS user).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.version_option(package_name="tokenkeep", prog_name="tokenkeep")
@click.pass_context
def cli(ctx: click.Context, db: Optional[str], owner: Optional[str], as_json: bool) -> None:
    """Create, list, edit, revoke and verify personal access tokens.

    A token is shown once, when it is created or rotated; afterwards only its id, name,
    scopes and dates are known. Scopes: collection, device, policy, each optionally
    narrowed to :read or :write (device:read).
    """
    app = App(db or default_db_path(), owner, as_json)
    ctx.obj = app
    ctx.call_on_close(app.close)


@cli.command(epilog=_EXIT_HELP)
@click.option(
    "--name", "-n", metavar="NAME", help="A unique name for the token (1-100 characters)."
)
@click.option(
    "--scope",
    "-s",
    "scopes",
    metavar="SCOPE",
    multiple=True,
    help="A scope the token grants; repeat or separate with commas (device,policy:read).",
)
@click.option("--expires-in", type=DURATION, help="Lifetime, e.g. 30d, 12h, 2w (default: 30d).")
@click.option(
    "--expires-at", type=DATE, help="Expiry date, ISO 8601: 2027-01-31 (end of day, UTC)."
)
@click.option(
    "--from",
    "from_file",
    metavar="FILE.csv",
    help="Create many tokens at once from a CSV with columns name, scopes, expires; "
    "all or nothing.",
)
@click.option(
    "--secrets-out",
    metavar="FILE",
    help="Write the secrets as JSON lines to this new file (mode 0600) instead of stdout.",
)
@_json_option
@pass_app
def create(
    app: App,
    name: Optional[str],
    scopes: Tuple[str, ...],
    expires_in: Optional[timedelta],
    expires_at: Optional[datetime],
    from_file: Optional[str],
    secrets_out: Optional[str],
) -> None:
    """Create a token and print its secret, once.

    The secret goes to stdout and nothing else does, so `$(tokenkeep create ...)` and
    `| tee` work; the details go to stderr. With --from, every row of the CSV becomes a
    token in one transaction: if one row is wrong, none is created. The `scopes` column
    separates scopes with spaces or `;`, the `expires` column holds a duration (30d) or
    a date (2027-01-31) and may be empty (then --expires-in/--expires-at or 30d applies).
    """
    if expires_in is not None and expires_at is not None:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    if from_file is not None:
        if name is not None or scopes:
            raise click.UsageError(
                "--from FILE takes names and scopes from the file; drop --name/--scope"
            )
        _create_bulk(app, from_file, expires_in, expires_at, secrets_out)
        return
    if name is None or not name.strip():
        raise click.UsageError("give the token a name with --name NAME (or use --from FILE.csv)")
    scope_list = split_scopes(scopes)
    if not scope_list:
        raise click.UsageError(
            "give at least one --scope (collection, device, policy, or e.g. device:read)"
        )
    out = _open_secrets_file(secrets_out) if secrets_out else None
    try:
        issued = app.store().create(
            app.owner,
            name,
            scope_list,
            expires_in=expires_in,
            expires_at=expires_at,
            actor=app.actor,
        )
    except BaseException:
        if out is not None:
            out.close()
            os.unlink(secrets_out)  # type: ignore[arg-type]
        raise
    if out is not None:
        try:
            with out:
                _write_secrets(out, [issued])
        except OSError as e:
            app.store().revoke(app.owner, issued.info.id, actor=app.actor)
            raise CliError(
                f"cannot write {secrets_out}: {e.strerror}; the new token was revoked again",
                EXIT_ERROR,
            ) from None
        if app.as_json:
            click.echo(json.dumps(token_json(issued.info), ensure_ascii=False))
        _info(f"Created token {_describe(issued.info)}.")
        _info(
            f"Its secret is in {secrets_out} (mode 0600); it is shown only once and cannot be seen again."
        )
        return
    if app.as_json:
        click.echo(json.dumps(issued_json(issued), ensure_ascii=False))
        return
    _info(f"Created token {_describe(issued.info)}.")
    _info("Copy the token now: it is shown only once and cannot be seen again.")
    click.echo(issued.secret)


def _read_text(path: str) -> Tuple[str, str]:
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


def _check_name(name: str, where: str) -> str:
    name = name.strip()
    if not name:
        raise CliError(f"{where}: the name is empty; every row needs a name", EXIT_USAGE)
    if len(name) > 100:
        raise CliError(f"{where}: the name is longer than 100 characters", EXIT_USAGE)
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise CliError(f"{where}: the name contains control characters", EXIT_USAGE)
    return name


def _check_scopes(scopes: List[str], vocabulary: Dict[str, Tuple[str, ...]], where: str) -> None:
    if not scopes:
        raise CliError(
            f"{where}: no scopes; give at least one of {', '.join(vocabulary)}", EXIT_USAGE
        )
    for s in scopes:
        base, sep, action = s.partition(":")
        if base not in vocabulary or (sep and action not in vocabulary[base]):
            raise CliError(
                f"{where}: unknown scope '{s}'; known scopes: {', '.join(vocabulary)} "
                "(optionally :read or :write)",
                EXIT_USAGE,
            )


def _create_bulk(
    app: App,
    path: str,
    expires_in: Optional[timedelta],
    expires_at: Optional[datetime],
    secrets_out: Optional[str],
) -> None:
    text, label = _read_text(path)
    store = app.store()
    vocabulary = store.vocabulary
    taken = {t.name for t in store.list(app.owner)}
    reader = csv.reader(io.StringIO(text))
    try:
        header = next(reader)
    except StopIteration:
        raise CliError(
            f"{label} is empty; expected a header line: name,scopes,expires", EXIT_USAGE
        ) from None
    except csv.Error as e:
        raise CliError(f"{label}: not a CSV file ({e})", EXIT_USAGE) from None
    columns = [h.strip().lower() for h in header]
    unknown = [c for c in columns if c not in _CSV_COLUMNS]
    if unknown or "name" not in columns or "scopes" not in columns:
        raise CliError(
            f"{label}: the header must name the columns name, scopes and optionally expires "
            f"(found: {','.join(columns)})",
            EXIT_USAGE,
        )
    i_name, i_scopes = columns.index("name"), columns.index("scopes")
    i_exp = columns.index("expires") if "expires" in columns else None
    default_expiry: Optional[Union[timedelta, datetime]] = (
        expires_in if expires_in is not None else expires_at
    )

    items: List[Tuple[str, List[str], Optional[Union[timedelta, datetime]]]] = []
    seen: Dict[str, int] = {}
    interactive = sys.stderr.isatty() and not app.as_json
    with _progress(interactive) as progress:
        rows_total = max(text.rstrip("\n").count("\n"), 1)
        task = progress.add_task("Checking rows", total=rows_total)
        try:
            for row in reader:
                progress.advance(task)
                where = f"{label} line {reader.line_num}"
                if not any(c.strip() for c in row):
                    continue
                if len(row) != len(columns):
                    raise CliError(
                        f"{where}: {len(row)} fields, expected {len(columns)}", EXIT_USAGE
                    )
                name = _check_name(row[i_name], where)
                if name in seen:
                    raise CliError(
                        f"{where}: the name '{name}' is also on line {seen[name]}", EXIT_USAGE
                    )
                if name in taken:
                    raise CliError(
                        f"{where}: a token named '{name}' already exists; revoke it or rename "
                        "the row",
                        EXIT_NAME_TAKEN,
                    )
                seen[name] = reader.line_num
                scopes = split_scopes([row[i_scopes]])
                _check_scopes(scopes, vocabulary, where)
                expiry = default_expiry
                cell = row[i_exp].strip() if i_exp is not None else ""
                if cell:
                    try:
                        expiry = parse_expiry(cell)
                    except ValueError as e:
                        raise CliError(f"{where}: {e}", EXIT_USAGE) from None
                items.append((name, scopes, expiry))
        except csv.Error as e:
            raise CliError(
                f"{label} line {reader.line_num}: not valid CSV ({e})", EXIT_USAGE
            ) from None
        if not items:
            raise CliError(f"{label} has no rows to create", EXIT_USAGE)
        progress.update(task, completed=rows_total)
        creating = progress.add_task(f"Creating {len(items)} tokens", total=None)  # one transaction
        out = _open_secrets_file(secrets_out) if secrets_out else None
        try:
            issued = store.create_many(app.owner, items, actor=app.actor)
            progress.update(creating, total=len(issued), completed=len(issued))
        except BaseException:
            if out is not None:
                out.close()
                os.unlink(secrets_out)  # type: ignore[arg-type]
            raise
    if out is None:
        _write_secrets(click.get_text_stream("stdout"), issued)
        _info(
            f"Created {len(issued)} tokens; their secrets are the JSON lines on stdout, shown only once."
        )
        return
    try:
        with out:
            _write_secrets(out, issued)
    except OSError as e:
        store.revoke_many(app.owner, [t.info.id for t in issued], actor=app.actor)
        raise CliError(
            f"cannot write {secrets_out}: {e.strerror}; the {len(issued)} new tokens were "
            "revoked again",
            EXIT_ERROR,
        ) from None
    _info(
        f"Created {len(issued)} tokens; their secrets are in {secrets_out} (mode 0600), shown only once."
    )


@cli.command("list", epilog=_EXIT_HELP)
@_json_option
@pass_app
def list_(app: App) -> None:
    """List your tokens that are not revoked, newest first (expired ones too, until purged)."""
    tokens = app.store().list(app.owner)
    if app.as_json:
        _print_json([token_json(t) for t in tokens])
    elif not tokens:
        _info(
            f"No tokens for {app.owner}. Create one with: tokenkeep create --name NAME --scope SCOPE"
        )
    else:
        _print_tokens(tokens)


@cli.command(epilog=_EXIT_HELP)
@click.argument("token")
@_json_option
@pass_app
def show(app: App, token: str) -> None:
    """Show one token, by id or name."""
    info = _resolve(app, token)
    if app.as_json:
        _print_json(token_json(info))
    else:
        _print_token_details(info)


@cli.command(epilog=_EXIT_HELP)
@click.argument("token")
@click.option(
    "--scope",
    "-s",
    "scopes",
    metavar="SCOPE",
    multiple=True,
    required=True,
    help="The new scopes (they replace the old ones); repeat or separate with commas.",
)
@_json_option
@pass_app
def edit(app: App, token: str, scopes: Tuple[str, ...]) -> None:
    """Change a token's scopes (the only thing that can be edited)."""
    info = _resolve(app, token)
    scope_list = split_scopes(scopes)
    if not scope_list:
        raise click.UsageError("give at least one --scope")
    new = app.store().update_scopes(app.owner, info.id, scope_list, actor=app.actor)
    if app.as_json:
        _print_json(token_json(new))
    else:
        _info(
            f"Updated '{new.name}' (id {new.id}): scopes {_scopes_text(new.scopes)} "
            f"(were {_scopes_text(info.scopes)})."
        )


def _read_revoke_targets(app: App, path: str) -> List[TokenInfo]:
    """Tokens named in a file: JSON lines with an id (create's output), a CSV with an id or a
    name column, or one id per line (blank lines and # comments skipped)."""
    text, label = _read_text(path)
    live = app.store().list(app.owner)
    by_id = {t.id: t for t in live}
    by_name = {t.name: t for t in live}
    lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1)]
    lines = [(n, s) for n, s in lines if s and not s.startswith("#")]
    if not lines:
        raise CliError(f"{label} names no tokens", EXIT_USAGE)
    wanted: List[Tuple[str, str, str]] = []  # (kind, value, where)
    if lines[0][1].startswith("{"):
        for n, s in lines:
            try:
                obj = json.loads(s)
                tid = obj["token"]["id"] if "token" in obj else obj["id"]
            except (ValueError, KeyError, TypeError):
                raise CliError(
                    f"{label} line {n}: expected a JSON object with an id", EXIT_USAGE
                ) from None
            wanted.append(("id", str(tid), f"{label} line {n}"))
    else:
        header = [h.strip().lower() for h in next(csv.reader([lines[0][1]]))]
        if "id" in header or "name" in header:
            col = header.index("id") if "id" in header else header.index("name")
            kind = header[col]
            for n, s in lines[1:]:
                row = next(csv.reader([s]))
                if col >= len(row) or not row[col].strip():
                    raise CliError(f"{label} line {n}: no {kind}", EXIT_USAGE)
                wanted.append((kind, row[col].strip(), f"{label} line {n}"))
        else:
            wanted = [("id", s, f"{label} line {n}") for n, s in lines]
    targets: Dict[str, TokenInfo] = {}
    for kind, value, where in wanted:
        if kind == "id" and _looks_like_secret(value):
            raise CliError(
                f"{where}: expected a token id, found what looks like a secret", EXIT_USAGE
            )
        t = (by_id if kind == "id" else by_name).get(value)
        if t is None:
            raise CliError(
                f"{where}: no live token with {kind} '{value}' for owner '{app.owner}'; "
                "nothing was revoked",
                EXIT_NOT_FOUND,
            )
        targets[t.id] = t
    return list(targets.values())


@cli.command(epilog=_EXIT_HELP)
@click.argument("token", required=False)
@click.option(
    "--from",
    "from_file",
    metavar="FILE",
    help="Revoke every token listed in FILE ('-' for stdin), all or nothing: one id per "
    "line, a CSV with an id or name column, or the JSON lines of create.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_json_option
@pass_app
def revoke(app: App, token: Optional[str], from_file: Optional[str], yes: bool) -> None:
    """Revoke (delete) a token, by id or name, after a confirmation.

    A revoked token never verifies again and its name is free for a new token. Without a
    terminal to ask on, --yes is required.
    """
    if (token is None) == (from_file is None):
        raise click.UsageError("give one token id (or name), or --from FILE")
    targets = (
        [_resolve(app, token)] if token is not None else _read_revoke_targets(app, from_file or "-")
    )
    if not yes:
        if len(targets) == 1:
            prompt = f"Revoke token '{targets[0].name}'?"
        else:
            names = ", ".join(f"'{t.name}'" for t in targets[:3]) + (
                ", ..." if len(targets) > 3 else ""
            )
            prompt = f"Revoke {len(targets)} tokens ({names})?"
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise CliError(
                "not revoking: no terminal to confirm on; pass --yes to revoke without asking",
                EXIT_USAGE,
            )
        if not click.confirm(prompt, default=False, err=True):
            raise CliError("not revoked", EXIT_ERROR)
    store = app.store()
    if len(targets) == 1:
        store.revoke(app.owner, targets[0].id, actor=app.actor)
    else:
        store.revoke_many(app.owner, [t.id for t in targets], actor=app.actor)
    if app.as_json:
        _print_json({"revoked": [t.id for t in targets]})
    elif len(targets) == 1:
        _info(f"Revoked token '{targets[0].name}' (id {targets[0].id}).")
    else:
        _info(f"Revoked {len(targets)} tokens.")


@cli.command(epilog=_EXIT_HELP)
@click.argument("token")
@_json_option
@pass_app
def rotate(app: App, token: str) -> None:
    """Replace a token's secret: a new token with the same name, scopes and expiry is issued
    and the old one revoked. The new secret is printed once, to stdout."""
    old = _resolve(app, token)
    issued = app.store().rotate(app.owner, old.id, actor=app.actor)
    if app.as_json:
        click.echo(json.dumps({**issued_json(issued), "replaced": old.id}, ensure_ascii=False))
        return
    _info(f"Rotated {_describe(issued.info)}; the old token (id {old.id}) is revoked.")
    _info("Copy the token now: it is shown only once and cannot be seen again.")
    click.echo(issued.secret)


def _read_token() -> str:
    secret = os.environ.get("TOKENKEEP_TOKEN", "")
    if not secret.strip():
        stdin = sys.stdin
        if stdin is None:
            secret = ""
        elif stdin.isatty():
            secret = click.prompt(
                "Token", hide_input=True, err=True, default="", show_default=False
            )
        else:
            secret = stdin.read(_MAX_TOKEN_INPUT)
    secret = secret.strip()
    if not secret:
        raise CliError(
            "no token given: pipe it on stdin or set TOKENKEEP_TOKEN (never pass it as an "
            "argument)",
            EXIT_USAGE,
        )
    return secret


_VERIFY_FAILURES = (
    (InvalidToken, "invalid", "the token is invalid (malformed, mistyped or unknown)"),
    (ExpiredToken, "expired", "the token has expired; create a new one"),
    (RevokedToken, "revoked", "the token has been revoked"),
)


@cli.command(epilog=_EXIT_HELP, context_settings={"allow_extra_args": True})
@click.option(
    "--scope",
    "-s",
    "scopes",
    metavar="SCOPE",
    multiple=True,
    help="A scope the token must grant; repeat for several (all are required).",
)
@_json_option
@pass_app
@click.pass_context
def verify(ctx: click.Context, app: App, scopes: Tuple[str, ...]) -> None:
    """Check a token: read from $TOKENKEEP_TOKEN if set, else from stdin.

    Never from the command line, where every user can see it with ps. The exit code says
    why a token failed: 0 valid, 3 invalid, 4 expired, 5 revoked, 6 lacks a --scope.
    The store is opened read-only: a check from here is not recorded as a use.

    \b
      echo "$TOKEN" | tokenkeep verify --scope device:read
      TOKENKEEP_TOKEN="$TOKEN" tokenkeep verify
    """
    if ctx.args:
        raise CliError(
            "verify takes no arguments: pipe the token on stdin or set TOKENKEEP_TOKEN "
            "(an argument is visible to every user via ps)",
            EXIT_USAGE,
        )
    secret = _read_token()
    required = split_scopes(scopes)
    store = app.store()
    result: Dict[str, Any] = {
        "valid": False,
        "error": None,
        "token": None,
        "required": sorted(required),
        "granted": [],
    }
    try:
        info = store.verify(secret, *required)
    except InsufficientScope as e:
        result.update(error="insufficient_scope", granted=sorted(e.granted))
        message, code = (
            (f"the token lacks scope {_scopes_text(e.required)}; it has {_scopes_text(e.granted)}"),
            EXIT_SCOPE,
        )
    except (InvalidToken, ExpiredToken, RevokedToken) as e:
        _, kind, message = next(f for f in _VERIFY_FAILURES if isinstance(e, f[0]))
        result["error"] = kind
        code = next(c for cls, c in _ERROR_CODES if isinstance(e, cls))
    else:
        result.update(valid=True, token=token_json(info), granted=sorted(info.scopes))
        if app.as_json:
            _print_json(result)
        else:
            click.echo(f"valid: {_describe(info)}, owner {info.owner}")
        return
    if app.as_json:
        _print_json(result)
    raise CliError(message, code)


@cli.command(epilog=_EXIT_HELP)
@click.option(
    "--within", type=DURATION, default="7d", show_default=True, help="How soon: e.g. 7d, 12h."
)
@click.option("--all-owners", is_flag=True, help="Every owner's tokens, not only yours.")
@click.option(
    "--exec",
    "command",
    metavar="CMD",
    help="Run the shell command CMD once per token, its fields in TOKENKEEP_TOKEN_* variables "
    "(never the secret); exit 1 if any run failed.",
)
@_json_option
@pass_app
def expiring(app: App, within: timedelta, all_owners: bool, command: Optional[str]) -> Optional[int]:
    """List tokens that will expire soon, soonest first, to warn before it happens."""
    tokens = app.store().expiring_within(within, owner=None if all_owners else app.owner)
    if command is not None:
        from .cli_expiring_exec import run_for_each

        failed = run_for_each(tokens, command)
        for t, rc in failed:
            click.echo(f"tokenkeep: --exec failed (status {rc}) for token {t.id} ({t.owner})", err=True)
        return EXIT_ERROR if failed else EXIT_OK
    if app.as_json:
        _print_json([token_json(t) for t in tokens])
    elif not tokens:
        _info("No token expires within that time.")
    else:
        _print_tokens(tokens, show_owner=all_owners)


@cli.command(epilog=_EXIT_HELP)
@click.option(
    "--older-than",
    type=DURATION,
    default="0d",
    show_default=True,
    help="Only tokens revoked or expired at least this long ago.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be purged; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_json_option
@pass_app
def purge(app: App, older_than: timedelta, dry_run: bool, yes: bool) -> None:
    """Delete expired and revoked tokens for good (every owner's), after a confirmation.

    Live tokens are kept. --dry-run only counts. Without a terminal to ask on, --yes is
    required.
    """
    store = app.store()
    count = store.purge(older_than, dry_run=True)
    if dry_run:
        if app.as_json:
            _print_json({"purged": 0, "would_purge": count})
        else:
            _info(f"Would purge {count} token{'s' if count != 1 else ''} (every owner's); nothing deleted.")
        return
    if count and not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise CliError(
                "not purging: no terminal to confirm on; pass --yes to purge without asking "
                "(or --dry-run to count)",
                EXIT_USAGE,
            )
        prompt = f"Delete {count} revoked or expired token{'s' if count != 1 else ''} of every owner for good?"
        if not click.confirm(prompt, default=False, err=True):
            raise CliError("not purged", EXIT_ERROR)
    count = store.purge(older_than, actor=app.actor)
    if app.as_json:
        _print_json({"purged": count})
    else:
        _info(f"Purged {count} token{'s' if count != 1 else ''}.")


@cli.command(epilog=_EXIT_HELP)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="At most this many events.",
)
@click.option("--all-owners", is_flag=True, help="Every owner's events, not only yours.")
@_json_option
@pass_app
def audit(app: App, limit: int, all_owners: bool) -> None:
    """Show the audit log, newest first: who created, edited, revoked, rotated or purged what."""
    events = app.store().audit(owner=None if all_owners else app.owner, limit=limit)
    if app.as_json:
        _print_json([event_json(e) for e in events])
        return
    if not events:
        _info("No audit events.")
        return
    from rich.table import Table

    now = datetime.now(timezone.utc)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("#", "WHEN", "ACTOR", "ACTION", "OWNER", "TOKEN", "ID", "SCOPES"):
        table.add_column(col, no_wrap=col in ("#", "WHEN", "ID"))
    for e in events:
        change = _scopes_text(e.new_scopes or e.old_scopes)
        if e.old_scopes and e.new_scopes and e.old_scopes != e.new_scopes:
            change = f"{_scopes_text(e.old_scopes)} -> {_scopes_text(e.new_scopes)}"
        table.add_row(
            *(
                _markup_safe(c)
                for c in (
                    str(e.seq),
                    f"{format_datetime(e.at)} ({relative_time(e.at, now)})",
                    e.actor,
                    e.action,
                    e.owner,
                    e.name,
                    e.token_id or "",
                    change,
                )
            )
        )
    _console().print(table)


@cli.command(epilog=_EXIT_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--user",
    metavar="NAME",
    default=None,
    help="Who is signed in to the page (a single-user local run; default: --owner).",
)
@pass_app
def serve(app: App, host: str, port: int, user: Optional[str]) -> None:
    """Serve the admin page (the Access Tokens tab) for --user on the database."""
    try:
        from tokenkeep.web.admin import serve as serve_admin
    except ImportError as e:
        raise CliError(
            f"the admin page is not available ({e}); install it with: pip install 'tokenkeep[web]'",
            EXIT_ERROR,
        ) from None
    serve_admin(app.db, user=user or app.owner, host=host, port=port)


# -- entry point -----------------------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _fail(message: str, code: int) -> NoReturn:
    # Click quotes argv in its messages; a secret pasted there must not be echoed back.
    message = _SECRET_LIKE.sub("<secret hidden>", _one_line(message))
    click.echo(f"tokenkeep: error: {message}", err=True)
    sys.exit(code)


def _error_message(e: TokenkeepError) -> str:
    message = str(e) or type(e).__name__
    if isinstance(e, StoreError):
        return f"{message} (check --db or TOKENKEEP_DB)"
    if isinstance(e, NameTaken):
        return f"{message}; choose another name or revoke the old token"
    if isinstance(e, NotFound):
        return f"{message}; run 'tokenkeep list' to see your tokens"
    return message


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the CLI; every error is one line on stderr and an exit code (:data:`EXIT_CODES`)."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="tokenkeep",
            standalone_mode=False,
        )
    except click.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            # `tokenkeep` (or a group) alone: the formatted help, on stdout, as `gh` does.
            click.echo(e.ctx.get_help())
            sys.exit(0)
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        _fail(e.format_message() + hint, EXIT_USAGE)
    except click.Abort:
        _fail("aborted", EXIT_ERROR)
    except click.ClickException as e:
        _fail(e.format_message(), e.exit_code)
    except CliError as e:
        _fail(str(e), e.code)
    except TokenkeepError as e:
        code = next((c for cls, c in _ERROR_CODES if isinstance(e, cls)), EXIT_ERROR)
        _fail(_error_message(e), code)
    except BrokenPipeError:
        # The reader went away (`tokenkeep list | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except OSError as e:
        _fail(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}", EXIT_ERROR)
    except (TypeError, OverflowError, ValueError, UnicodeError):
        # Not echoed: a native TypeError lists its arguments. One line, no traceback.
        _fail("an argument has the wrong type or is out of range (see --help)", EXIT_USAGE)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)


if __name__ == "__main__":  # pragma: no cover
    main()
