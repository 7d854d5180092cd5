"""``tokenkeep show TOKEN``: one token, by id or name, with the scopes it used lately and the
addresses it was used from."""

from __future__ import annotations

from datetime import timedelta

import click

from ..completion import complete_tokens
from ..context import READS, App, opens_store, pass_app, resolve
from ..exit_codes import EXIT_HELP
from ..output import (
    clients_json,
    clients_text,
    print_json,
    print_token_details,
    scopes_text,
    token_json,
)

USAGE_DAYS = 30  # the window of "Used" / "Unused" (TokenStore.scope_usage's default)


@opens_store(READS)
@click.command(epilog=EXIT_HELP)
@click.argument("token", shell_complete=complete_tokens)
@pass_app
def show(app: App, token: str) -> None:
    """Show one token, by id or name: its networks, which of its scopes it used in the last
    30 days and the last addresses it was used from. A revoked token is shown by its id,
    with when it was revoked."""
    info = resolve(app, token, revoked=True)
    if info.revoked_at is not None:  # no usage report: it can be used no more
        if app.as_json:
            print_json({**token_json(info), "scope_usage": None, "recent_clients": None})
        else:
            print_token_details(info)
        return
    store = app.store()
    usage = store.scope_report(info.owner, [info.id], within=timedelta(days=USAGE_DAYS))[0]
    clients = store.recent_clients(info.owner, info.id)
    if app.as_json:
        last = {s: at.isoformat() for s, at in sorted(usage.last_used.items())}
        doc = token_json(info)
        doc["scope_usage"] = {
            "days": USAGE_DAYS,
            "used": sorted(usage.used),
            "unused": sorted(usage.unused),
            "last_used": last,
        }
        doc["recent_clients"] = clients_json(clients)
        print_json(doc)
    else:
        print_token_details(
            info,
            extra=[
                [f"Used ({USAGE_DAYS} days)", scopes_text(usage.used) or "none"],
                [f"Unused ({USAGE_DAYS} days)", scopes_text(usage.unused) or "none"],
                ["Recent clients", clients_text(clients) or "none recorded"],
            ],
        )


def register(cli: click.Group) -> None:
    cli.add_command(show)
