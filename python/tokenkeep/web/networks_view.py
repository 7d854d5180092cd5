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


def row_clients(store: TokenStore, owner: str, row: Any) -> None:
    """Set ``row.clients`` (newest first: ``.address``, ``.last_seen``) and ``row.suggested`` (the
    CIDRs of "Restrict to the networks it used", or [] when they would change nothing). A
    token never used has no clients: no query for it."""
    info = row.info
    if info.last_used_at is None or info.revoked_at is not None:
        row.clients, row.suggested = [], []
        return
    try:
        row.clients = list(store.recent_clients(owner, info.id))
    except NotFound:  # revoked or purged since the page was listed
        row.clients = []
    suggested = suggest_networks(c.address for c in row.clients)
    row.suggested = suggested if set(suggested) != set(info.networks) else []


def page_networks(store: TokenStore, owner: str, rows: list[Any], edit: Any) -> dict[str, Any]:
    """Fill every row (and the edit dialog's token, when it is not on this page) and return
    ``edit_networks``: the edit dialog's field value and its suggestion."""
    for row in rows:
        row_clients(store, owner, row)
    if edit is not None and edit not in rows:
        row_clients(store, owner, edit)
    if edit is None:
        return {"edit_networks": {"value": "", "suggested": ""}}
    return {
        "edit_networks": {
            "value": networks_text(edit.info.networks),
            "suggested": "\n".join(edit.suggested),
        }
    }
