"""``tokenkeep show TOKEN``: one token, by id or name."""

from __future__ import annotations

import click

from ..completion import complete_tokens
from ..context import READS, App, opens_store, pass_app, resolve
from ..exit_codes import EXIT_HELP
from ..output import print_json, print_token_details, token_json


@opens_store(READS)
@click.command(epilog=EXIT_HELP)
@click.argument("token", shell_complete=complete_tokens)
@pass_app
def show(app: App, token: str) -> None:
    """Show one token, by id or name."""
    info = resolve(app, token)
    if app.as_json:
        print_json(token_json(info))
    else:
        print_token_details(info)


def register(cli: click.Group) -> None:
    cli.add_command(show)
