"""``tokenkeep show TOKEN``: one token, by id or name, with the scopes it used lately."""

from __future__ import annotations

from datetime import timedelta

import click

from ..completion import complete_tokens
from ..context import READS, App, opens_store, pass_app, resolve
from ..exit_codes import EXIT_HELP
from ..output import print_json, print_token_details, scopes_text, token_json

USAGE_DAYS = 30  # the window of "Used" / "Unused" (TokenStore.scope_usage's default)


@opens_store(READS)
@click.command(epilog=EXIT_HELP)
@click.argument("token", shell_complete=complete_tokens)
@pass_app
def show(app: App, token: str) -> None:
    """Show one token, by id or name, and which of its scopes it used in the last 30 days. A
    revoked token is shown by its id, with when it was revoked."""
    info = resolve(app, token, revoked=True)
    if info.revoked_at is not None:  # no usage report: it can be used no more
        if app.as_json:
            print_json({**token_json(info), "scope_usage": None})
        else:
            print_token_details(info)
        return
    usage = app.store().scope_report(info.owner, [info.id], within=timedelta(days=USAGE_DAYS))[0]
    if app.as_json:
        last = {s: at.isoformat() for s, at in sorted(usage.last_used.items())}
        doc = token_json(info)
        doc["scope_usage"] = {
            "days": USAGE_DAYS,
            "used": sorted(usage.used),
            "unused": sorted(usage.unused),
            "last_used": last,
        }
        print_json(doc)
    else:
        print_token_details(
            info,
            extra=[
                [f"Used ({USAGE_DAYS} days)", scopes_text(usage.used) or "none"],
                [f"Unused ({USAGE_DAYS} days)", scopes_text(usage.unused) or "none"],
            ],
        )


def register(cli: click.Group) -> None:
    cli.add_command(show)
