"""``tokenkeep networks TOKEN``: show or change the networks a token may be used from."""

from __future__ import annotations

import click

from ...client_networks import networks_text, split_networks, suggest_networks
from ..completion import complete_tokens
from ..context import App, pass_app, resolve
from ..exit_codes import EXIT_HELP
from ..output import info, networks_line, print_json, token_json


@click.command(epilog=EXIT_HELP)
@click.argument("token", shell_complete=complete_tokens)
@click.option(
    "--allow-from",
    "allow",
    metavar="CIDR",
    multiple=True,
    help="A network the token may be used from; repeat or separate with commas. "
    "The networks given replace the old ones.",
)
@click.option("--clear", is_flag=True, help="Remove every restriction: usable from anywhere.")
@click.option(
    "--from-recent",
    is_flag=True,
    help="Restrict to the addresses the token was recently used from (each address exactly: "
    "/32 or /128, adjacent ones merged).",
)
@pass_app
def networks(app: App, token: str, allow: tuple[str, ...], clear: bool, from_recent: bool) -> None:
    """Show the networks a token may be used from, or replace them.

    Without an option, prints them (one a line; nothing: usable from anywhere). A change
    reaches every process and host on its next verification, as a scope edit does.

    \b
      tokenkeep networks ci --allow-from 10.0.0.0/8 --allow-from 2001:db8::/32
      tokenkeep networks ci --from-recent
      tokenkeep networks ci --clear
    """
    chosen = [bool(allow), clear, from_recent]
    if sum(chosen) > 1:
        raise click.UsageError("give one of --allow-from, --clear and --from-recent")
    old = resolve(app, token)
    if not any(chosen):
        if app.as_json:
            print_json({"id": old.id, "name": old.name, "networks": sorted(old.networks)})
        else:
            for network in networks_text(old.networks).splitlines():
                click.echo(network)
            if not old.networks:
                info(f"'{old.name}' (id {old.id}) may be used from any network.")
        return
    if from_recent:
        seen = [c.address for c in app.store().recent_clients(app.owner, old.id)]
        if not seen:
            raise click.UsageError(
                f"'{old.name}' has no recorded use yet: give --allow-from CIDR instead"
            )
        wanted = suggest_networks(seen)
    else:
        wanted = [] if clear else split_networks(allow)
    new = app.store().update_networks(app.owner, old.id, wanted, actor=app.actor)
    if app.as_json:
        print_json(token_json(new))
    else:
        info(
            f"Updated '{new.name}' (id {new.id}): networks {networks_line(new.networks)} "
            f"(were {networks_line(old.networks)})."
        )


def register(cli: click.Group) -> None:
    cli.add_command(networks)
