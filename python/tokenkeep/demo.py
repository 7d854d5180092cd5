"""A short end-to-end tour on a database file: ``python -m tokenkeep.demo ./tokenkeep.db``.

Creates a token, lists it, verifies it, edits its scope, revokes it, and prints each step.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from . import InsufficientScope, RevokedToken, TokenStore


def main(argv: list) -> int:
    path = argv[1] if len(argv) > 1 else "tokenkeep.db"
    with TokenStore(path) as store:
        owner = "demo"
        for stale in store.list(owner):
            if stale.name == "ci-deploy":
                store.revoke(owner, stale.id)
        issued = store.create(
            owner, "ci-deploy", {"device", "policy:read"}, expires_in=timedelta(days=30)
        )
        shown = issued.secret[:14] + "…" + issued.secret[-4:]
        print(
            f"created   {issued.info.name!r} id={issued.info.id} scopes={sorted(issued.info.scopes)}"
        )
        print(f"          secret (shown once, elided here): {shown}")
        print(f"          expires {issued.info.expires_at:%Y-%m-%d %H:%M} UTC")
        for t in store.list(owner):
            print(
                f"listed    {t.name!r:14} {' '.join(sorted(t.scopes)):22} created {t.created_at:%Y-%m-%d}"
            )
        info = store.verify(issued.secret, "device:write")
        print(
            f"verified  device:write -> ok (token {info.name!r}, last used {info.last_used_at:%H:%M:%S})"
        )
        store.update_scopes(owner, issued.info.id, {"device:read"})
        print("edited    scopes -> ['device:read']")
        try:
            store.verify(issued.secret, "device:write")
        except InsufficientScope as e:
            print(f"verified  device:write -> InsufficientScope (granted {sorted(e.granted)})")
        store.revoke(owner, issued.info.id)
        print("revoked   ci-deploy")
        try:
            store.verify(issued.secret)
        except RevokedToken:
            print("verified  -> RevokedToken: the secret no longer works")
        print(f"audit     {[e.action for e in reversed(store.audit(owner, limit=4))]}")
        print(f"database  {path} (key file {path}.key, both mode 0600)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
