"""The Access Token page's networks, framework-free: what each row shows about where its token
may be used (``TokenInfo.networks``) and was used (``store.recent_clients``), and what
"Restrict to the networks it used" proposes in the edit dialog.

:func:`page_networks` fills the rows :func:`tokenkeep.web.view.token_page` lists and returns
the keys it adds to the view model. The suggestion is
:func:`tokenkeep.client_networks.suggest_networks`: exactly the recent addresses (/32, /128),
merged only where they fill a block, never widened; the user sees it in the field and saves.
"""

from __future__ import annotations

from typing import Any

from ..client_networks import networks_text, suggest_networks
from ..errors import NotFound
from ..store import TokenStore

__all__ = ["page_networks", "row_clients"]


def _used(row: Any) -> bool:
    """A live token used at least once: only those can have clients."""
    return row.info.last_used_at is not None and row.info.revoked_at is None


def _fill(row: Any, clients: Any) -> None:
    row.clients = list(clients)
    suggested = suggest_networks(c.address for c in row.clients)
    row.suggested = suggested if set(suggested) != set(row.info.networks) else []


def row_clients(store: TokenStore, owner: str, row: Any) -> None:
    """Set ``row.clients`` (newest first: ``.address``, ``.last_seen``) and ``row.suggested`` (the
    CIDRs of "Restrict to the networks it used", or [] when they would change nothing). A
    token never used has no clients: no query for it."""
    if not _used(row):
        row.clients, row.suggested = [], []
        return
    try:
        _fill(row, store.recent_clients(owner, row.info.id))
    except NotFound:  # revoked or purged since the page was listed
        _fill(row, [])


def page_networks(store: TokenStore, owner: str, rows: list[Any], edit: Any) -> dict[str, Any]:
    """Fill every row (and the edit dialog's token, when it is not on this page) and return
    ``edit_networks``: the edit dialog's field value and its suggestion. The used rows' clients
    come from one :meth:`~tokenkeep.TokenStore.recent_clients_many` (two database reads for the
    page, not two per row)."""
    todo = [*rows, edit] if edit is not None and edit not in rows else list(rows)
    seen = store.recent_clients_many(owner, [r.info.id for r in todo if _used(r)])
    for row in todo:
        if _used(row):
            _fill(row, seen.get(row.info.id, []))  # missing: revoked or purged since listed
        else:
            row.clients, row.suggested = [], []
    if edit is None:
        return {"edit_networks": {"value": "", "suggested": ""}}
    return {
        "edit_networks": {
            "value": networks_text(edit.info.networks),
            "suggested": "\n".join(edit.suggested),
        }
    }
