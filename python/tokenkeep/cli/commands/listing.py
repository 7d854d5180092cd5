"""``tokenkeep list``: the owner's tokens."""

from __future__ import annotations

import click

from ..context import READS, App, json_option, opens_store, pass_app
from ..exit_codes import EXIT_HELP
from ..output import info, print_json, print_tokens, token_json


@opens_store(READS)
@click.command("list", epilog=EXIT_HELP)
@json_option
@pass_app
def list_(app: App) -> None:
    """List your tokens that are not revoked, newest first (expired ones too, until purged)."""
    tokens = app.store().list(app.owner)
    if app.as_json:
        print_json([token_json(t) for t in tokens])
    elif not tokens:
        info(
            f"No tokens for {app.owner}. Create one with: tokenkeep create --name NAME --scope SCOPE"
        )
    else:
        print_tokens(tokens)


def register(cli: click.Group) -> None:
    cli.add_command(list_)
