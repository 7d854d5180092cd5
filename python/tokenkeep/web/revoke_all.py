""" "Revoke all" on the Access Token page (issue 22): every live token of the signed-in owner,
in one transaction (:meth:`tokenkeep.TokenStore.revoke_many`, audited per token as the owner).

The confirmation dialog states the count; the form sends it back, and a count that no longer
matches (a token was created or revoked meanwhile) revokes nothing and says so, so that the
owner never revokes more than they were shown.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import NotFound
from ..store import TokenStore
from .actions import REVOKED_AFTER, Answer, back

__all__ = ["live_ids", "live_count", "revoke_all", "revoked_all_notice"]

log = logging.getLogger("tokenkeep.web")

_PAGE = 1000
_AUDIT_CHECK = 1000  # the banner states a count it can check in the audit log, up to this


def live_ids(store: TokenStore, owner: str, since: datetime | None = None) -> list[str]:
    """The ids of the owner's live tokens (made at or after ``since``, when given)."""
    out: list[str] = []
    offset = 0
    while True:
        page = store.list(owner, state="active", limit=_PAGE, offset=offset)
        out.extend(t.id for t in page if since is None or t.created_at >= since)
        offset += len(page)
        if not page or offset >= page.total:
            return out


def live_count(store: TokenStore, owner: str, since: datetime | None = None) -> int:
    """How many live tokens "Revoke all" would revoke."""
    if since is None:
        return store.list(owner, state="active", limit=1).total
    return len(live_ids(store, owner, since))


def revoke_all(
    store: TokenStore, owner: str, data: Mapping[str, Any], since: datetime | None = None
) -> Answer:
    """The "Revoke all" confirmation: ``count`` is the number the dialog showed."""
    params = back(data)
    ids = live_ids(store, owner, since)
    shown = str(data.get("count", ""))
    if not ids:
        return Answer(409, params, {"error": "You have no active access tokens to revoke."})
    if shown != str(len(ids)):
        message = (
            f"You now have {len(ids)} active access tokens, not the {shown or 'number'} you "
            "confirmed: nothing was revoked. Review them and try again."
        )
        return Answer(409, params, {"error": message})
    try:
        count = store.revoke_many(owner, ids, actor=owner)
    except NotFound:  # one went away between the listing and the transaction: none revoked
        return Answer(409, params, {"error": "Your tokens changed meanwhile: nothing was revoked."})
    log.info("all access tokens revoked: owner=%s count=%d", owner, count)
    params.pop("page", None)
    return Answer(redirect={**params, "revoked_all": str(count)})


def revoked_all_notice(store: TokenStore, owner: str, count: str) -> str:
    """The banner after "Revoke all" (``revoked_all=<n>``). The count is stated only when the
    owner's own audit log shows that many revokes as its latest events, so a link cannot make
    the page claim a number it did not revoke."""
    if count.isdigit() and 0 < int(count) <= _AUDIT_CHECK:
        n = int(count)
        events = store.audit(owner, limit=n)
        if len(events) == n and all(e.action == "revoke" for e in events):
            what = "Your access token was" if n == 1 else f"All {n} of your access tokens were"
            return f"{what} revoked. " + REVOKED_AFTER
    return "Your access tokens were revoked. " + REVOKED_AFTER
