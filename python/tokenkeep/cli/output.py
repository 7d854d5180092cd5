"""What the CLI prints: the JSON forms of records, tables for people, one-line messages.

stdout carries the result (a table, JSON, a secret); everything for the person at the
terminal goes to stderr, so pipes stay clean. Text from the store is shown with invisible and
control characters escaped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from ..client_networks import networks_text
from ..jupyter import format_datetime, relative_time
from ..models import AuditEvent, IssuedToken, TokenInfo
from .tables import print_table, stdout_is_terminal


def token_json(t: TokenInfo) -> dict[str, Any]:
    """The stable JSON form of a token (dates ISO 8601, scopes sorted)."""
    return {
        "id": t.id,
        "owner": t.owner,
        "name": t.name,
        "scopes": sorted(t.scopes),
        "created_at": t.created_at.isoformat(),
        "expires_at": None if t.expires_at is None else t.expires_at.isoformat(),
        "last_used_at": None if t.last_used_at is None else t.last_used_at.isoformat(),
        "revoked_at": None if t.revoked_at is None else t.revoked_at.isoformat(),
        "description": t.description,
        "networks": sorted(t.networks),
    }


def event_json(e: AuditEvent) -> dict[str, Any]:
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


def issued_json(t: IssuedToken) -> dict[str, Any]:
    return {"secret": t.secret, "token": token_json(t.info)}


def print_json(obj: Any) -> None:
    """One JSON document on stdout: indented for a person at a terminal, compact when piped
    (the same JSON; the compact form is written by the C encoder, 10,000 tokens in ~0.1 s)."""
    indent = 2 if stdout_is_terminal() else None
    click.echo(json.dumps(obj, ensure_ascii=False, indent=indent))


def info(message: str) -> None:
    """A line for the person at the terminal: stderr, so stdout stays clean for pipes."""
    click.echo(message, err=True)


def scopes_text(scopes: Any) -> str:
    return ", ".join(sorted(scopes))


def networks_line(networks: Any) -> str:
    """A token's networks on one line, IPv4 first; "any" for an unbound token."""
    return networks_text(networks).replace("\n", ", ") or "any"


def clients_json(clients: Sequence[Any]) -> list[dict[str, str]]:
    """``recent_clients``' answer as JSON: newest first, ``{"address", "last_seen"}`` each."""
    return [{"address": c.address, "last_seen": c.last_seen.isoformat()} for c in clients]


def clients_text(clients: Sequence[Any], now: datetime | None = None) -> str:
    """``recent_clients``' answer on one line: ``192.0.2.7 (3 minutes ago), ...``."""
    now = now or datetime.now(UTC)
    return ", ".join(f"{c.address} ({relative_time(c.last_seen, now)})" for c in clients)


def expiry_text(t: TokenInfo, now: datetime) -> str:
    if t.expires_at is None:
        return "never"
    if t.expires_at <= now:
        return f"expired {relative_time(t.expires_at, now)}"
    return relative_time(t.expires_at, now)


def visible(text: str) -> str:
    """``text`` with every invisible or control character (bidi overrides, zero-width
    characters, line breaks, tabs) shown as ``\\uXXXX``, so a row can neither hide
    characters nor reorder what the terminal shows, nor add a column to piped output."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\u{ord(c):04x}" for c in text)


def _iso(when: datetime | None) -> str:
    return "" if when is None else when.isoformat()  # records hold aware UTC datetimes


def print_tokens(tokens: Sequence[TokenInfo], show_owner: bool = False) -> None:
    """A table of tokens on a terminal (relative dates, expired in red); piped, tab-separated
    rows: id, [owner,] name, scopes (comma-separated), then created, expires and last used
    as ISO 8601 UTC (empty: never)."""
    if not stdout_is_terminal():
        lines = [
            "\t".join(
                [t.id]
                + ([visible(t.owner)] if show_owner else [])
                + [visible(t.name), visible(",".join(sorted(t.scopes)))]
                + [_iso(t.created_at), _iso(t.expires_at), _iso(t.last_used_at)]
            )
            for t in tokens
        ]
        sys.stdout.write("".join(line + "\n" for line in lines))
        sys.stdout.flush()
        return
    now = datetime.now(UTC)
    headers = (
        ["ID"]
        + (["OWNER"] if show_owner else [])
        + ["NAME", "SCOPES", "CREATED", "EXPIRES", "LAST USED"]
    )
    rows = [
        [t.id]
        + ([visible(t.owner)] if show_owner else [])
        + [
            visible(t.name),
            visible(scopes_text(t.scopes)),
            t.created_at.isoformat()[:10],
            expiry_text(t, now),
            relative_time(t.last_used_at, now),
        ]
        for t in tokens
    ]
    first = 2 if show_owner else 1
    print_table(
        headers,
        rows,
        wrappable=(first - 1, first, first + 1) if show_owner else (first, first + 1),
        red=[t.expires_at is not None and t.expires_at <= now for t in tokens],
        red_column=first + 3,
        terminal=True,
    )


def print_token_details(t: TokenInfo, extra: Sequence[Sequence[str]] = ()) -> None:
    """One token as "Field  value" lines (piped: tab-separated), then the ``extra`` rows."""
    now = datetime.now(UTC)

    def when(at: datetime | None, text: str) -> str:
        return "never" if at is None else f"{format_datetime(at)} ({text})"

    rows = [
        ["Name", visible(t.name)],
        ["ID", t.id],
        ["Owner", visible(t.owner)],
        ["Scopes", visible(scopes_text(t.scopes))],
        ["Networks", networks_line(t.networks)],
        ["Created", when(t.created_at, relative_time(t.created_at, now))],
        ["Expires", when(t.expires_at, expiry_text(t, now))],
        ["Last used", when(t.last_used_at, relative_time(t.last_used_at, now))],
    ]
    if t.description:
        rows.insert(1, ["Description", visible(t.description)])
    if t.revoked_at is not None:
        rows.append(["Revoked", when(t.revoked_at, relative_time(t.revoked_at, now))])
    rows += [list(row) for row in extra]
    if stdout_is_terminal():
        width_ = max(len(k) for k, _ in rows)
        sys.stdout.write("".join(f"{k.ljust(width_)}  {v}\n" for k, v in rows))
    else:
        sys.stdout.write("".join(f"{k}\t{v}\n" for k, v in rows))
    sys.stdout.flush()


def describe(t: TokenInfo) -> str:
    now = datetime.now(UTC)
    exp = (
        "never expires"
        if t.expires_at is None
        else (f"expires {format_datetime(t.expires_at)} ({expiry_text(t, now)})")
    )
    return f"'{visible(t.name)}' (id {t.id}), scopes {scopes_text(t.scopes)}, {exp}"


def progress_bar(enabled: bool) -> Any:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True, highlight=False),
        transient=True,
        disable=not enabled,
    )
