"""``create --from FILE.csv``: many tokens from a CSV (columns name, scopes, expires) in one
transaction, all or nothing, with a progress bar on a terminal."""

from __future__ import annotations

import csv
import io
import os
import sys
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple, Union

import click

from .argtypes import parse_expiry, split_scopes
from .context import App, read_text
from .exit_codes import EXIT_ERROR, EXIT_NAME_TAKEN, EXIT_USAGE, CliError
from .output import info, progress_bar
from .secrets_file import open_secrets_file, write_secrets

_CSV_COLUMNS = ("name", "scopes", "expires")


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


def create_bulk(
    app: App,
    path: str,
    expires_in: Optional[timedelta],
    expires_at: Optional[datetime],
    secrets_out: Optional[str],
) -> None:
    text, label = read_text(path)
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
        out = open_secrets_file(secrets_out) if secrets_out else None
        try:
            issued = store.create_many(app.owner, items, actor=app.actor)
            progress.update(creating, total=len(issued), completed=len(issued))
        except BaseException:
            if out is not None:
                out.close()
                os.unlink(secrets_out)  # type: ignore[arg-type]
            raise
    if out is None:
        write_secrets(click.get_text_stream("stdout"), issued)
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
    info(
        f"Created {len(issued)} tokens; their secrets are in {secrets_out} (mode 0600), shown only once."
    )

