"""The Access Token page's leak banner and least-privilege hints, framework-free: the keys
:func:`tokenkeep.web.view.token_page` adds to its view model for ``_leak_banner.html`` and
``_scope_usage.html``.

- :func:`leak_banner`: the owner's tokens revoked as leaked in the last 30 days (one query,
  ``store.leaked_notices``), as sentences. Where a token was found is the audit's ``detail``,
  which the engine refuses to let hold a secret.
- :func:`scope_usage`: for the editable rows of one page, the scopes each token used in the
  last 30 days (one ``store.scope_report`` call for the whole page) and the sentence the edit
  dialog shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from ..errors import NotFound
from ..store import TokenStore

__all__ = ["BANNER_LINES", "WINDOW", "leak_banner", "page_hints", "scope_usage", "usage_sentence"]

WINDOW = timedelta(days=30)
BANNER_LINES = 3  # tokens named in the banner; the rest are counted


def _date(dt) -> str:
    return f"{dt:%b} {dt.day}, {dt.year}"


def leak_banner(store: TokenStore, owner: str) -> dict[str, Any]:
    """``{"lines": [sentence, ...], "more": n}`` for the owner's tokens revoked as leaked in
    the last 30 days, newest first (``lines`` empty: no banner)."""
    notices = store.leaked_notices(owner, within=WINDOW)
    lines = []
    for n in notices[:BANNER_LINES]:
        where = f"found in {n.where}" if n.where else "found leaked"
        lines.append(f"{n.name} was revoked because it was {where} on {_date(n.at)}.")
    return {"lines": lines, "more": max(0, len(notices) - BANNER_LINES), "total": len(notices)}


def _listed(scopes: Iterable[str]) -> str:
    items = sorted(scopes)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def usage_sentence(used: Iterable[str], unused: Iterable[str]) -> str:
    """What the edit dialog says about a token's last 30 days; "" when it used all it holds."""
    used, unused = frozenset(used), frozenset(unused)
    if not unused:
        return ""
    if not used:
        return "In the last 30 days this token used no scope."
    return f"In the last 30 days this token used only {_listed(used)}."


def scope_usage(store: TokenStore, owner: str, token_ids: list[str]) -> dict[str, dict[str, Any]]:
    """token id -> ``{"used": [scope, ...], "sentence": str, "narrow": bool}`` for the tokens
    named (the page's editable rows), in one ``scope_report`` call. ``narrow``: the token holds
    scopes it did not use and used at least one, so "Narrow to what it used" is offered. A
    token revoked since the page was listed is left out."""
    if not token_ids:
        return {}
    try:
        report = store.scope_report(owner, token_ids, within=WINDOW)
    except NotFound:  # one of them was revoked meanwhile: the others, one by one
        report = []
        for token_id in token_ids:
            try:
                report.extend(store.scope_report(owner, [token_id], within=WINDOW))
            except NotFound:
                continue
    out = {}
    for u in report:
        out[u.token.id] = {
            "used": sorted(u.used),
            "sentence": usage_sentence(u.used, u.unused),
            "narrow": bool(u.used and u.unused),
        }
    return out


def usage_of(usage: dict[str, dict[str, Any]], token_id: str | None) -> dict[str, Any]:
    """The usage entry of one token, or an empty one."""
    return usage.get(token_id or "", {"used": [], "sentence": "", "narrow": False})


def page_hints(
    store: TokenStore, owner: str, rows: list[Any], chosen: dict[str, Any]
) -> dict[str, Any]:
    """The view model keys of this module: ``leaked`` (the banner), ``usage`` (each editable
    row's scope usage) and ``edit_usage`` (the edit dialog's token, ``chosen["edit"]``)."""
    edit = chosen.get("edit")
    ids = [r.info.id for r in rows if r.editable]
    if edit is not None and edit.editable and edit.info.id not in ids:
        ids.append(edit.info.id)
    usage = scope_usage(store, owner, ids)
    edit_usage = usage_of(usage, edit.info.id if edit is not None else None)
    return {"leaked": leak_banner(store, owner), "usage": usage, "edit_usage": edit_usage}
