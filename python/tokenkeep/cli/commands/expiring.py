"""``tokenkeep expiring``: tokens that expire soon, and ``--exec`` to act on each."""

from __future__ import annotations

from datetime import timedelta

import click

from ..argtypes import DURATION
from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_ERROR, EXIT_HELP, EXIT_OK
from ..output import info, print_json, print_tokens, token_json


@opens_store(READS)
@click.command(epilog=EXIT_HELP)
@click.option(
    "--within", type=DURATION, default="7d", show_default=True, help="How soon: e.g. 7d, 12h."
)
@click.option("--all-owners", is_flag=True, help="Every owner's tokens, not only yours.")
@click.option(
    "--exec",
    "command",
    metavar="CMD",
    help="Run the shell command CMD once per token, its fields in TOKENKEEP_TOKEN_* variables "
    "(never the secret); exit 1 if any run failed.",
)
@pass_app
def expiring(app: App, within: timedelta, all_owners: bool, command: str | None) -> int | None:
    """List tokens that will expire soon, soonest first, to warn before it happens."""
    tokens = app.store().expiring_within(within, owner=None if all_owners else app.owner)
    if command is not None:
        from ..expiring_exec import run_for_each

        failed = run_for_each(tokens, command)
        for t, rc in failed:
            click.echo(
                f"tokenkeep: --exec failed (status {rc}) for token {t.id} ({t.owner})", err=True
            )
        return EXIT_ERROR if failed else EXIT_OK
    if app.as_json:
        print_json([token_json(t) for t in tokens])
    elif not tokens:
        info("No token expires within that time.")
    else:
        print_tokens(tokens, show_owner=all_owners)
    return None


def register(cli: click.Group) -> None:
    cli.add_command(expiring)
