"""``tokenkeep list``: tokens, filtered and paged by the store (one query, however many rows)."""

from __future__ import annotations

from typing import Optional, Tuple

import click

from ..completion import scope_option
from ..argtypes import split_scopes
from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_HELP
from ..output import info, print_json, print_tokens, token_json
from ..tables import stdout_is_terminal

PAGE = 50  # rows shown on a terminal unless --limit says otherwise


@opens_store(READS)
@click.command("list", epilog=EXIT_HELP)
@click.option("--all-owners", is_flag=True, help="Every owner's tokens, with an OWNER column.")
@click.option(
    "--state",
    type=click.Choice(["active", "inactive", "all"]),
    default="active",
    show_default=True,
    help="active: usable; inactive: revoked or expired; all: both.",
)
@click.option("--search", metavar="TEXT", help="Only names containing TEXT (any case).")
@scope_option("Only tokens holding any of these scopes; repeat or separate with commas.")
@click.option(
    "--sort",
    type=click.Choice(["created", "name", "expires", "last_used"]),
    default="created",
    show_default=True,
    help="Order, newest or last first (--reverse: oldest or first first).",
)
@click.option("--reverse", is_flag=True, help="Ascending order.")
@click.option(
    "--limit",
    "-L",
    type=click.IntRange(min=0),
    default=None,
    help=f"At most N rows; 0 for all (default: {PAGE} on a terminal, all when piped or --json).",
)
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip the first N rows.")
@pass_app
def list_(
    app: App,
    all_owners: bool,
    state: str,
    search: Optional[str],
    scopes: Tuple[str, ...],
    sort: str,
    reverse: bool,
    limit: Optional[int],
    offset: int,
) -> None:
    """List tokens, newest first: yours, or every owner's with --all-owners.

    On a terminal one page of 50 is shown with the total; piped, every row is printed as
    tab-separated fields (id, [owner,] name, scopes, created, expires, last used; dates ISO
    8601 UTC, empty for never), without a header.
    """
    paged = limit is None and stdout_is_terminal() and not app.as_json
    wanted = PAGE if paged else (limit or None)
    tokens = app.store().list(
        None if all_owners else app.owner,
        all_owners=all_owners,
        state=state,
        search=search or None,
        scope=split_scopes(scopes) or None,
        sort=sort,
        descending=not reverse,
        limit=wanted,
        offset=offset,
    )
    if app.as_json:
        print_json([token_json(t) for t in tokens])
        return
    if not tokens:
        whose = "any owner" if all_owners else app.owner
        filtered = state != "active" or search or scopes or offset
        info(
            f"No tokens for {whose} match." if filtered
            else f"No tokens for {whose}. Create one with: tokenkeep create --name NAME --scope SCOPE"
        )
        return
    print_tokens(tokens, show_owner=all_owners)
    if stdout_is_terminal() and tokens.total > offset + len(tokens):
        info(
            f"Showing {offset + 1}-{offset + len(tokens)} of {tokens.total:,} tokens; "
            f"--offset {offset + len(tokens)} for the next page, --limit 0 for all."
        )


def register(cli: click.Group) -> None:
    cli.add_command(list_)
