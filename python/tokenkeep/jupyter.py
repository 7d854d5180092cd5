"""Tokens and audit events as HTML tables in Jupyter, and readable dates for people.

``TokenInfo``, ``AuditEvent`` and the lists that ``TokenStore.list``, ``expiring_within`` and
``audit`` return have a ``_repr_html_`` that calls the functions here, so a notebook cell that
ends with ``store.list("alice")`` shows a table. Every field is escaped: a token named
``<script>`` is displayed as text, never run.

>>> from tokenkeep.jupyter import tokens_html
>>> html = tokens_html(store.list("alice"))  # doctest: +SKIP

:func:`to_dataframe` turns tokens or audit events into a pandas DataFrame (pandas comes with
the ``[jupyter]`` extra; nothing else here needs it).

:func:`guard` masks every token in a kernel's outputs before they are shown or saved
(:mod:`tokenkeep.notebook_guard`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape
from typing import TYPE_CHECKING, cast

from .notebook_guard import guard

if TYPE_CHECKING:  # pragma: no cover
    from .models import AuditEvent, TokenInfo

__all__ = [
    "relative_time",
    "format_datetime",
    "token_html",
    "tokens_html",
    "audit_html",
    "clients_html",
    "to_dataframe",
    "guard",
]

_STYLE = (
    "<style>"
    "table.tokenkeep{border-collapse:collapse;font-size:0.9em}"
    "table.tokenkeep th,table.tokenkeep td{text-align:left;padding:2px 10px;vertical-align:top}"
    "table.tokenkeep td.tk-expired{color:#b00020}"
    "table.tokenkeep code{white-space:nowrap}"
    "</style>"
)


def _plural(n: int, unit: str) -> str:
    return f"{n} {unit}" if n == 1 else f"{n} {unit}s"


def relative_time(when: datetime | None, now: datetime | None = None, never: str = "never") -> str:
    """``when`` relative to ``now`` (default: the current time), for people: "in 29 days",
    "3 hours ago", "just now". ``never`` is returned for None.

    >>> relative_time(datetime(2030, 1, 30, tzinfo=timezone.utc), datetime(2030, 1, 1, tzinfo=timezone.utc))
    'in 29 days'
    """
    if when is None:
        return never
    if now is None:
        now = datetime.now(UTC)
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        return "in under a minute" if seconds > 0 else "just now"

    # Past times count whole units elapsed; future ones round to the nearest unit, so a 30-day
    # token reads "in 30 days" just after its creation, not "in 29 days".
    def count(unit: int) -> int:
        return int(span // unit) if seconds <= 0 else max(1, int(span / unit + 0.5))

    if span < 3600:
        text = _plural(count(60), "minute")
    elif span < 86400:
        text = _plural(count(3600), "hour")
    else:
        text = _plural(count(86400), "day")
    return f"in {text}" if seconds > 0 else f"{text} ago"


def format_datetime(when: datetime | None, never: str = "never") -> str:
    """An aware datetime as ``2030-01-30 12:00 UTC``; ``never`` for None."""
    if when is None:
        return never
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _scopes(scopes: Iterable[str]) -> str:
    return ", ".join(sorted(scopes))


def _networks(networks: Iterable[str]) -> str:
    """A token's networks, IPv4 first; "any" for an unbound token."""
    from .client_networks import networks_text

    return networks_text(networks).replace("\n", ", ") or "any"


def _when(when: datetime | None, now: datetime, never: str = "never") -> str:
    """A cell showing the relative time, with the exact time as a tooltip."""
    if when is None:
        return escape(never)
    return (
        f'<span title="{escape(when.isoformat())}">'
        f"{escape(format_datetime(when))} ({escape(relative_time(when, now))})</span>"
    )


def _table(headers: Sequence[str], rows: Sequence[tuple[tuple[str, str], ...]]) -> str:
    """rows hold (already escaped html, css class) cells."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="{cls}">{cell}</td>' if cls else f"<td>{cell}</td>" for cell, cls in row
        )
        + "</tr>"
        for row in rows
    )
    return f'{_STYLE}<table class="tokenkeep"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def token_html(info: TokenInfo, now: datetime | None = None) -> str:
    """One token as a two-column table (field, value)."""
    now = now or datetime.now(UTC)
    expired = info.expires_at is not None and info.expires_at <= now
    rows = [
        (("Name", ""), (escape(info.name), "")),
        (("ID", ""), (f"<code>{escape(info.id)}</code>", "")),
        (("Owner", ""), (escape(info.owner), "")),
        (("Scopes", ""), (escape(_scopes(info.scopes)), "")),
        (("Networks", ""), (escape(_networks(info.networks)), "")),
        (("Created", ""), (_when(info.created_at, now), "")),
        (
            ("Expires", ""),
            (_when(info.expires_at, now, "never expires"), "tk-expired" if expired else ""),
        ),
        (("Last used", ""), (_when(info.last_used_at, now), "")),
    ]
    if info.revoked_at is not None:
        rows.append((("Revoked", ""), (_when(info.revoked_at, now), "tk-expired")))
    return _table(["Field", "Value"], [((escape(k), c1), v) for (k, c1), v in rows])


def tokens_html(tokens: Iterable[TokenInfo], now: datetime | None = None) -> str:
    """Tokens as a table: name, id, owner, scopes, created, expires, last used; and networks,
    when one of them is bound to some, and revoked, when one of them is."""
    now = now or datetime.now(UTC)
    tokens = list(tokens)
    if not tokens:
        return "<p><em>No tokens.</em></p>"
    any_revoked = any(t.revoked_at is not None for t in tokens)
    any_bound = any(t.networks for t in tokens)
    rows = []
    for t in tokens:
        expired = t.expires_at is not None and t.expires_at <= now
        row: tuple[tuple[str, str], ...] = (
            (escape(t.name), ""),
            (f"<code>{escape(t.id)}</code>", ""),
            (escape(t.owner), ""),
            (escape(_scopes(t.scopes)), ""),
            (_when(t.created_at, now), ""),
            (_when(t.expires_at, now, "never expires"), "tk-expired" if expired else ""),
            (_when(t.last_used_at, now), ""),
        )
        if any_bound:
            row += ((escape(_networks(t.networks)), ""),)
        if any_revoked:
            row += ((_when(t.revoked_at, now, "—"), "tk-expired" if t.revoked_at else ""),)
        rows.append(row)
    headers = ["Name", "ID", "Owner", "Scopes", "Created", "Expires", "Last used"]
    if any_bound:
        headers.append("Networks")
    if any_revoked:
        headers.append("Revoked")
    return _table(headers, rows) + f"<p><small>{_plural(len(tokens), 'token')}</small></p>"


def clients_html(clients: Iterable[object], now: datetime | None = None) -> str:
    """``store.recent_clients(owner, token_id)`` as a table: address and when, newest first."""
    now = now or datetime.now(UTC)
    clients = list(clients)
    if not clients:
        return "<p><em>No recorded client.</em></p>"
    rows = [
        (
            (f"<code>{escape(str(c.address))}</code>", ""),  # type: ignore[attr-defined]
            (_when(c.last_seen, now), ""),  # type: ignore[attr-defined]
        )
        for c in clients
    ]
    return _table(["Address", "Last used"], rows)


def audit_html(events: Iterable[AuditEvent], now: datetime | None = None) -> str:
    """Audit events as a table: when, actor, action, owner, token name and id, scope change."""
    now = now or datetime.now(UTC)
    events = list(events)
    if not events:
        return "<p><em>No audit events.</em></p>"
    rows = []
    for e in events:
        change = ""
        if e.old_scopes or e.new_scopes:
            old, new = _scopes(e.old_scopes), _scopes(e.new_scopes)
            change = f"{old} \u2192 {new}" if e.old_scopes else new
        rows.append(
            (
                (str(e.seq), ""),
                (_when(e.at, now), ""),
                (escape(e.actor), ""),
                (escape(e.action), ""),
                (escape(e.owner), ""),
                (escape(e.name), ""),
                (f"<code>{escape(e.token_id or '')}</code>", ""),
                (escape(change), ""),
                (escape(e.detail), ""),
            )
        )
    headers = ["#", "When", "Actor", "Action", "Owner", "Token", "ID", "Scopes", "Detail"]
    return _table(headers, rows) + f"<p><small>{_plural(len(events), 'event')}</small></p>"


TOKEN_COLUMNS = (
    "id",
    "owner",
    "name",
    "scopes",
    "created_at",
    "expires_at",
    "last_used_at",
    "revoked_at",
)
EVENT_COLUMNS = (
    "seq",
    "at",
    "actor",
    "action",
    "token_id",
    "owner",
    "name",
    "old_scopes",
    "new_scopes",
    "detail",
)


def to_dataframe(items: Iterable[object], now: datetime | None = None):  # -> pandas.DataFrame
    """Tokens (:class:`TokenInfo`) or audit events (:class:`AuditEvent`) as a pandas DataFrame.

    One row per item; dates are timezone-aware UTC datetime columns (NaT for never), scopes sorted
    tuples. Tokens get two more columns for the common questions: ``expires_in`` (a Timedelta
    from ``now``, negative once expired; NaT for never) and ``expired``. An empty input gives
    an empty frame with the token columns. Needs pandas (``pip install 'tokenkeep[jupyter]'``).

    >>> df = store.list(all_owners=True).to_dataframe()          # doctest: +SKIP
    >>> df[df.expires_in < pd.Timedelta(days=7)][["owner", "name", "expires_at"]]  # doctest: +SKIP
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_dataframe needs pandas: pip install 'tokenkeep[jupyter]'") from None
    from .models import AuditEvent

    items = list(items)
    if items and all(isinstance(i, AuditEvent) for i in items):
        events = cast("list[AuditEvent]", items)
        df = pd.DataFrame(
            [
                (
                    e.seq,
                    e.at,
                    e.actor,
                    e.action,
                    e.token_id,
                    e.owner,
                    e.name,
                    tuple(sorted(e.old_scopes)),
                    tuple(sorted(e.new_scopes)),
                    e.detail,
                )
                for e in events
            ],
            columns=list(EVENT_COLUMNS),
        )
        df["at"] = pd.to_datetime(df["at"], utc=True)
        return df
    tokens = cast("list[TokenInfo]", items)  # TokenInfo or alike: what list() returns
    df = pd.DataFrame(
        [
            (
                t.id,
                t.owner,
                t.name,
                tuple(sorted(t.scopes)),
                t.created_at,
                t.expires_at,
                t.last_used_at,
                t.revoked_at,
            )
            for t in tokens
        ],
        columns=list(TOKEN_COLUMNS),
    )
    for column in ("created_at", "expires_at", "last_used_at", "revoked_at"):
        df[column] = pd.to_datetime(df[column], utc=True)
    now = now or datetime.now(UTC)
    df["expires_in"] = df["expires_at"] - pd.Timestamp(now)
    df["expired"] = df["expires_in"].notna() & (df["expires_in"] <= pd.Timedelta(0))
    return df
