"""What the CLI prints: the JSON forms of records, tables for people, one-line messages.

stdout carries the result (a table, JSON, a secret); everything for the person at the
terminal goes to stderr, so pipes stay clean. Text from the store is shown with invisible and
control characters escaped.
"""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from typing import Any, Dict, Sequence

import click

from ..jupyter import format_datetime, relative_time
from ..models import AuditEvent, IssuedToken, TokenInfo


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


def print_json(obj: Any) -> None:
    click.echo(json.dumps(obj, ensure_ascii=False, indent=2))


def info(message: str) -> None:
    """A line for the person at the terminal: stderr, so stdout stays clean for pipes."""
    click.echo(message, err=True)


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is for grep and friends: do not wrap rows at 80 columns.
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, highlight=False, soft_wrap=False, width=240 if wide else None)


def scopes_text(scopes: Any) -> str:
    return ", ".join(sorted(scopes))


def expiry_text(t: TokenInfo, now: datetime) -> str:
    if t.expires_at is None:
        return "never"
    if t.expires_at <= now:
        return f"expired {relative_time(t.expires_at, now)}"
    return relative_time(t.expires_at, now)


def print_tokens(tokens: Sequence[TokenInfo], show_owner: bool = False) -> None:
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
        row = [t.id] + ([t.owner] if show_owner else []) + [t.name, scopes_text(t.scopes)]
        row = [markup_safe(c) for c in row] + [
            t.created_at.strftime("%Y-%m-%d"),
            f"[red]{expiry_text(t, now)}[/red]" if expired else expiry_text(t, now),
            relative_time(t.last_used_at, now),
        ]
        table.add_row(*row)
    console().print(table)


def markup_safe(text: str) -> str:
    """Text for a rich table cell: markup escaped, and every invisible or control character
    (bidi overrides, zero-width characters, line breaks) shown as ``\\uXXXX``, so a row can
    neither hide characters nor reorder what the terminal shows."""
    from rich.markup import escape

    return escape(visible(text))


def visible(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def print_token_details(t: TokenInfo, err: bool = False) -> None:
    from rich.table import Table

    now = datetime.now(timezone.utc)
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    exp = (
        "never"
        if t.expires_at is None
        else f"{format_datetime(t.expires_at)} ({expiry_text(t, now)})"
    )
    for k, v in (
        ("Name", t.name),
        ("ID", t.id),
        ("Owner", t.owner),
        ("Scopes", scopes_text(t.scopes)),
        ("Created", f"{format_datetime(t.created_at)} ({relative_time(t.created_at, now)})"),
        ("Expires", exp),
        (
            "Last used",
            "never"
            if t.last_used_at is None
            else f"{format_datetime(t.last_used_at)} ({relative_time(t.last_used_at, now)})",
        ),
    ):
        table.add_row(k, markup_safe(v))
    console(stderr=err).print(table)


def describe(t: TokenInfo) -> str:
    now = datetime.now(timezone.utc)
    exp = (
        "never expires"
        if t.expires_at is None
        else (f"expires {format_datetime(t.expires_at)} ({expiry_text(t, now)})")
    )
    return f"'{t.name}' (id {t.id}), scopes {scopes_text(t.scopes)}, {exp}"


def progress_bar(enabled: bool) -> Any:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
        disable=not enabled,
    )

