"""``tokenkeep edit TOKEN --scope ...``: replace a token's scopes."""

from __future__ import annotations

import click

from ..argtypes import split_scopes
from ..completion import complete_tokens, scope_option
from ..context import App, pass_app, resolve
from ..exit_codes import EXIT_HELP
from ..output import info, print_json, scopes_text, token_json


@click.command(epilog=EXIT_HELP)
@click.argument("token", shell_complete=complete_tokens)
@scope_option(
    "The new scopes (they replace the old ones); repeat or separate with commas.", required=True
)
@pass_app
def edit(app: App, token: str, scopes: tuple[str, ...]) -> None:
    """Change a token's scopes (the only thing that can be edited)."""
    old = resolve(app, token)
    scope_list = split_scopes(scopes)
    if not scope_list:
        raise click.UsageError("give at least one --scope")
    new = app.store().update_scopes(app.owner, old.id, scope_list, actor=app.actor)
    if app.as_json:
        print_json(token_json(new))
    else:
        info(
            f"Updated '{new.name}' (id {new.id}): scopes {scopes_text(new.scopes)} "
            f"(were {scopes_text(old.scopes)})."
        )


def register(cli: click.Group) -> None:
    cli.add_command(edit)
