"""``tokenkeep rotate TOKEN``: a new secret for a token; the old one is revoked."""

from __future__ import annotations

import click

from ..completion import complete_tokens
from ..context import App, pass_app, resolve
from ..exit_codes import EXIT_HELP
from ..output import describe, info, issued_json, print_json


@click.command(epilog=EXIT_HELP)
@click.argument("token", shell_complete=complete_tokens)
@pass_app
def rotate(app: App, token: str) -> None:
    """Replace a token's secret: a new token with the same name, scopes and expiry is issued
    and the old one revoked. The new secret is printed once, to stdout."""
    old = resolve(app, token)
    issued = app.store().rotate(app.owner, old.id, actor=app.actor)
    if app.as_json:
        print_json({**issued_json(issued), "replaced": old.id})
        return
    info(f"Rotated {describe(issued.info)}; the old token (id {old.id}) is revoked.")
    info("Copy the token now: it is shown only once and cannot be seen again.")
    click.echo(issued.secret)


def register(cli: click.Group) -> None:
    cli.add_command(rotate)
