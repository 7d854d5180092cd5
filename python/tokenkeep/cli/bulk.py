"""``create --from FILE.csv``: many tokens from a CSV (columns name, scopes, expires) in one
transaction, all or nothing, with a progress bar on a terminal."""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta

from ..errors import InvalidArgument, NameTaken, TokenkeepError, UnknownScope
from ..store import TokenStore
from .argtypes import parse_expiry, split_scopes
from .context import App, read_text
from .errors import error_message
from .exit_codes import EXIT_ERROR, EXIT_NAME_TAKEN, EXIT_USAGE, CliError, exit_code_of
from .output import info, issued_json, print_json, progress_bar, token_json, visible
from .secrets_file import open_secrets_file, write_secrets

_CSV_COLUMNS = ("name", "scopes", "expires")
Item = tuple[str, list[str], timedelta | datetime | None]


def _which_row(
    store: TokenStore,
    owner: str,
    items: Sequence[Item],
    lines: Sequence[int],
    label: str,
    error: TokenkeepError,
) -> CliError:
    """The row a failed batch failed on, told by the engine itself (only on this failure path).

    Each row is created alone in a scratch in-memory store with the same vocabulary and
    lifetime cap, under an owner of its own, so the engine reports the row's own error; the
    names it stores (normalized) tell a duplicate row and a name the owner already uses.
    """
    where = f"{label} line {{}}"
    taken = {t.name for t in store.list(owner)}
    seen: dict[str, int] = {}
    with TokenStore(
        ":memory:", vocabulary=dict(store.vocabulary), max_lifetime=store.max_lifetime
    ) as scratch:
        for i, (item, line) in enumerate(zip(items, lines, strict=True)):
            try:
                (issued,) = scratch.create_many(f"row{i}", [item])
            except TokenkeepError as e:
                return CliError(
                    f"{where.format(line)}: {error_message(e)}", exit_code_of(e), e.field
                )
            name = issued.info.name
            if name in seen:
                return CliError(
                    f"{where.format(line)}: the name '{visible(name)}' is also on line {seen[name]}",
                    EXIT_USAGE,
                    "name",
                )
            if name in taken:
                return CliError(
                    f"{where.format(line)}: a token named '{visible(name)}' already exists; revoke "
                    "it or rename the row",
                    EXIT_NAME_TAKEN,
                    "name",
                )
            seen[name] = line
    return CliError(error_message(error), exit_code_of(error), error.field)


def create_bulk(
    app: App,
    path: str,
    expires_in: timedelta | None,
    expires_at: datetime | None,
    secrets_out: str | None,
) -> None:
    text, label = read_text(path)
    store = app.store()
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
    default_expiry: timedelta | datetime | None = (
        expires_in if expires_in is not None else expires_at
    )

    items: list[Item] = []
    lines: list[int] = []
    interactive = sys.stderr.isatty() and not app.as_json
    with progress_bar(interactive) as progress:
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
                scopes = split_scopes([row[i_scopes]])
                expiry = default_expiry
                cell = row[i_exp].strip() if i_exp is not None else ""
                if cell:
                    try:
                        expiry = parse_expiry(cell)
                    except ValueError as e:
                        raise CliError(f"{where}: {e}", EXIT_USAGE) from None
                # Cells are trimmed (a space after a comma is CSV habit); the engine checks the rest.
                items.append((row[i_name].strip(), scopes, expiry))
                lines.append(reader.line_num)
        except csv.Error as e:
            raise CliError(
                f"{label} line {reader.line_num}: not valid CSV ({e})", EXIT_USAGE
            ) from None
        if not items:
            raise CliError(f"{label} has no rows to create", EXIT_USAGE)
        progress.update(task, completed=rows_total)
        creating = progress.add_task(f"Creating {len(items)} tokens", total=None)  # one transaction
        out = open_secrets_file(secrets_out) if secrets_out else None
        try:
            try:
                issued = store.create_many(app.owner, items, actor=app.actor)
            except (InvalidArgument, UnknownScope, NameTaken) as e:
                raise _which_row(store, app.owner, items, lines, label, e) from None
            progress.update(creating, total=len(issued), completed=len(issued))
        except BaseException:
            if out is not None:
                out.close()
                os.unlink(secrets_out)  # type: ignore[arg-type]
            raise
    if out is None:
        if app.as_json:  # one JSON document, as every command: an array of {"secret", "token"}
            print_json([issued_json(t) for t in issued])
        else:  # the secrets file's format: one JSON object per line
            write_secrets(sys.stdout, issued)
        info(
            f"Created {len(issued)} tokens; their secrets are the JSON lines on stdout, shown only once."
        )
        return
    try:
        with out:
            write_secrets(out, issued)
    except OSError as e:
        store.revoke_many(app.owner, [t.info.id for t in issued], actor=app.actor)
        raise CliError(
            f"cannot write {secrets_out}: {e.strerror}; the {len(issued)} new tokens were "
            "revoked again",
            EXIT_ERROR,
        ) from None
    if app.as_json:
        print_json([token_json(t.info) for t in issued])
    info(
        f"Created {len(issued)} tokens; their secrets are in {secrets_out} (mode 0600), shown only once."
    )
