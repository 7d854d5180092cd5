"""``tokenkeep list``: tokens, filtered and paged by the store (one query, however many rows)."""

from __future__ import annotations

from datetime import timedelta

import click

from ...models import ScopeUsage, TokenInfo
from ..argtypes import DURATION, split_scopes
from ..completion import scope_option
from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_HELP
from ..output import info, print_json, print_tokens, scopes_text, token_json, visible
from ..tables import print_table, stdout_is_terminal

PAGE = 50  # rows shown on a terminal unless --limit says otherwise


@opens_store(READS)
@click.command("list", epilog=EXIT_HELP)
@click.option("--all-owners", is_flag=True, help="Every owner's tokens, with an OWNER column.")
@click.option(
    "--state",
    type=click.Choice(["active", "live", "inactive", "all"]),
    default="active",
    show_default=True,
    help="active: usable; live: not revoked (expired too, until purged); "
    "inactive: revoked or expired; all: every one.",
)
@click.option("--search", metavar="TEXT", help="Only names containing TEXT (any case).")
@scope_option("Only tokens holding any of these scopes; repeat or separate with commas.")
@click.option(
    "--sort",
    type=click.Choice(["created", "name", "expires", "last_used"]),
    default="created",
    show_default=True,
    help="Order: newest first, or Z to A for name (--reverse: oldest first, or A to Z).",
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
@click.option(
    "--overprivileged",
    is_flag=True,
    help="Only usable tokens holding scopes they did not use within --within, with those scopes.",
)
@click.option(
    "--within",
    type=DURATION,
    default="30d",
    show_default=True,
    help="The window of --overprivileged.",
)
@pass_app
def list_(
    app: App,
    all_owners: bool,
    state: str,
    search: str | None,
    scopes: tuple[str, ...],
    sort: str,
    reverse: bool,
    limit: int | None,
    offset: int,
    overprivileged: bool,
    within: timedelta,
) -> None:
    """List tokens, newest first: yours, or every owner's with --all-owners.

    On a terminal one page of 50 is shown with the total; piped, every row is printed as
    tab-separated fields (id, [owner,] name, scopes, created, expires, last used; dates ISO
    8601 UTC, empty for never), without a header.
    """
    if overprivileged:
        _overprivileged(app, all_owners, search, scopes, within, limit, offset)
        return
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
            f"No tokens for {whose} match."
            if filtered
            else f"No tokens for {whose}. Create one with: tokenkeep create --name NAME --scope SCOPE"
        )
        return
    print_tokens(tokens, show_owner=all_owners)
    if stdout_is_terminal() and tokens.total > offset + len(tokens):
        info(
            f"Showing {offset + 1}-{offset + len(tokens)} of {tokens.total:,} tokens; "
            f"--offset {offset + len(tokens)} for the next page, --limit 0 for all."
        )


def _overprivileged(
    app: App,
    all_owners: bool,
    search: str | None,
    scopes: tuple[str, ...],
    within: timedelta,
    limit: int | None,
    offset: int,
) -> None:
    """``list --overprivileged``: the usable tokens (of the filter) holding unused scopes."""
    store = app.store()
    tokens: list[TokenInfo] = store.list(
        None if all_owners else app.owner,
        all_owners=all_owners,
        state="active",
        search=search or None,
        scope=split_scopes(scopes) or None,
    )
    wanted = {t.id for t in tokens}
    found: list[ScopeUsage] = []
    for owner in dict.fromkeys(t.owner for t in tokens):  # owners in listing order
        found += [u for u in store.overprivileged(owner, within=within) if u.token.id in wanted]
    order = {t.id: i for i, t in enumerate(tokens)}
    found.sort(key=lambda u: order[u.token.id])
    found = found[offset : offset + limit] if limit else found[offset:]
    if app.as_json:
        print_json(
            [dict(token_json(u.token), used=sorted(u.used), unused=sorted(u.unused)) for u in found]
        )
        return
    if not found:
        info(f"Every usable token used all its scopes in the last {within.days} days.")
        return
    owner_col = ["OWNER"] if all_owners else []
    terminal = stdout_is_terminal()
    join = scopes_text if terminal else (lambda s: ",".join(sorted(s)))  # piped: as list does
    rows = [
        [u.token.id]
        + ([visible(u.token.owner)] if all_owners else [])
        + [visible(u.token.name), join(u.token.scopes), join(u.unused)]
        for u in found
    ]
    if terminal:
        print_table(["ID"] + owner_col + ["NAME", "SCOPES", f"UNUSED ({within.days} DAYS)"], rows)
    else:
        click.echo("".join("\t".join(r) + "\n" for r in rows), nl=False)


def register(cli: click.Group) -> None:
    cli.add_command(list_)
