"""``tokenkeep audit``: the audit log, newest first."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from ...jupyter import format_datetime, relative_time
from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_HELP
from ..output import event_json, info, print_json, scopes_text, visible
from ..tables import print_table, stdout_is_terminal


@opens_store(READS)
@click.command(epilog=EXIT_HELP)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="At most this many events.",
)
@click.option("--all-owners", is_flag=True, help="Every owner's events, not only yours.")
@pass_app
def audit(app: App, limit: int, all_owners: bool) -> None:
    """Show the audit log, newest first: who created, edited, revoked, rotated or purged what."""
    events = app.store().audit(owner=None if all_owners else app.owner, limit=limit)
    if app.as_json:
        print_json([event_json(e) for e in events])
        return
    if not events:
        info("No audit events.")
        return
    now = datetime.now(UTC)
    terminal = stdout_is_terminal()
    rows = []
    for e in events:
        change = scopes_text(e.new_scopes or e.old_scopes)
        if e.old_scopes and e.new_scopes and e.old_scopes != e.new_scopes:
            change = f"{scopes_text(e.old_scopes)} -> {scopes_text(e.new_scopes)}"
        when = (
            f"{format_datetime(e.at)} ({relative_time(e.at, now)})"
            if terminal
            else e.at.isoformat()
        )
        rows.append(
            [str(e.seq), when]
            + [visible(c) for c in (e.actor, e.action, e.owner, e.name, e.token_id or "", change)]
        )
    print_table(
        ("#", "WHEN", "ACTOR", "ACTION", "OWNER", "TOKEN", "ID", "SCOPES"),
        rows,
        wrappable=(2, 4, 5, 7),
    )


def register(cli: click.Group) -> None:
    cli.add_command(audit)
