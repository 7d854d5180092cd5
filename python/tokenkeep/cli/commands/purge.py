"""``tokenkeep purge``: delete revoked and expired tokens for good, after a confirmation."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from ..argtypes import DURATION
from ..context import App, pass_app
from ..exit_codes import EXIT_ERROR, EXIT_HELP, EXIT_USAGE, CliError
from ..output import info, print_json


@click.command(epilog=EXIT_HELP)
@click.option(
    "--older-than",
    type=DURATION,
    default="0d",
    show_default=True,
    help="Only tokens revoked or expired at least this long ago.",
)
@click.option("--dry-run", is_flag=True, help="Only count what would be purged; delete nothing.")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def purge(app: App, older_than: timedelta, dry_run: bool, yes: bool) -> None:
    """Delete expired and revoked tokens for good (every owner's), after a confirmation.

    Live tokens are kept. --dry-run only counts. Without a terminal to ask on, --yes is
    required.
    """
    store = app.store()
    count = store.purge(older_than, dry_run=True)
    if dry_run:
        if app.as_json:
            print_json({"purged": 0, "would_purge": count})
        else:
            info(
                f"Would purge {count} token{'s' if count != 1 else ''} (every owner's); nothing deleted."
            )
        return
    if count and not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise CliError(
                "not purging: no terminal to confirm on; pass --yes to purge without asking "
                "(or --dry-run to count)",
                EXIT_USAGE,
            )
        prompt = f"Delete {count} revoked or expired token{'s' if count != 1 else ''} of every owner for good?"
        if not click.confirm(prompt, default=False, err=True):
            raise CliError("not purged", EXIT_ERROR)
    count = store.purge(older_than, actor=app.actor)
    if app.as_json:
        print_json({"purged": count})
    else:
        info(f"Purged {count} token{'s' if count != 1 else ''}.")


def register(cli: click.Group) -> None:
    cli.add_command(purge)
