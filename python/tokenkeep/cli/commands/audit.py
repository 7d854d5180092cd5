"""``tokenkeep audit``: the audit log, newest first."""

from __future__ import annotations

from datetime import datetime, timezone

import click

from ...jupyter import format_datetime, relative_time
from ..context import READS, App, json_option, opens_store, pass_app
from ..exit_codes import EXIT_HELP
from ..output import console, event_json, info, markup_safe, print_json, scopes_text


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
@json_option
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
    from rich.table import Table

    now = datetime.now(timezone.utc)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for col in ("#", "WHEN", "ACTOR", "ACTION", "OWNER", "TOKEN", "ID", "SCOPES"):
        table.add_column(col, no_wrap=col in ("#", "WHEN", "ID"))
    for e in events:
        change = scopes_text(e.new_scopes or e.old_scopes)
        if e.old_scopes and e.new_scopes and e.old_scopes != e.new_scopes:
            change = f"{scopes_text(e.old_scopes)} -> {scopes_text(e.new_scopes)}"
        table.add_row(
            *(
                markup_safe(c)
                for c in (
                    str(e.seq),
                    f"{format_datetime(e.at)} ({relative_time(e.at, now)})",
                    e.actor,
                    e.action,
                    e.owner,
                    e.name,
                    e.token_id or "",
                    change,
                )
            )
        )
    console().print(table)


def register(cli: click.Group) -> None:
    cli.add_command(audit)
