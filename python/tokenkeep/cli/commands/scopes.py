"""``tokenkeep scopes``: the store's scope vocabulary, as the engine holds it."""

from __future__ import annotations

import click

from ..context import READS, App, opens_store, pass_app
from ..exit_codes import EXIT_HELP
from ..output import print_json
from ..tables import print_table


@opens_store(READS)
@click.command(epilog=EXIT_HELP)
@pass_app
def scopes(app: App) -> None:
    """List the scopes a token can hold: each name alone (every action) or as name:action."""
    vocabulary = app.store().vocabulary
    if app.as_json:
        print_json([{"name": n, "actions": list(a)} for n, a in vocabulary.items()])
        return
    print_table(
        ("SCOPE", "ACTIONS"), [[n, ", ".join(a)] for n, a in vocabulary.items()], wrappable=(1,)
    )


def register(cli: click.Group) -> None:
    cli.add_command(scopes)
