"""``tokenkeep service create|list|revoke``: the tokens other services use to call the
RFC 7662 / RFC 7009 endpoints (``tokenkeep serve --api``), kept apart from users' tokens."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import click

from ..argtypes import DATE, DURATION
from ..context import CREATES, READS, App, opens_store, pass_app
from ..exit_codes import EXIT_ERROR, EXIT_HELP, EXIT_USAGE, CliError
from ..output import describe, info, issued_json, print_json, print_tokens, token_json


@click.group(epilog=EXIT_HELP)
def service() -> None:
    """Service tokens: what a gateway or a non-Python service sends (Authorization: Bearer)
    to POST /oauth/introspect and /oauth/revoke. They are not users' tokens: no guard
    accepts them, and `list` (but --all-owners, under the owner tokenkeep:service), `revoke` and
    the page never act on them."""


@opens_store(CREATES)
@service.command("create", epilog=EXIT_HELP)
@click.argument("name")
@click.option("--expires-in", type=DURATION, help="Lifetime, e.g. 90d, 12h (default: 30d).")
@click.option(
    "--expires-at", type=DATE, help="Expiry date, ISO 8601: 2027-01-31 (end of day, UTC)."
)
@pass_app
def create(app: App, name: str, expires_in: timedelta | None, expires_at: datetime | None) -> None:
    """Create a service token NAME and print its secret, once (stdout; details on stderr)."""
    if expires_in is not None and expires_at is not None:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    issued = app.store().create_service_token(
        name, expires_in=expires_in, expires_at=expires_at, actor=app.actor
    )
    if app.as_json:
        print_json(issued_json(issued))
        return
    info(f"Created service token {describe(issued.info)}.")
    info("Copy the token now: it is shown only once and cannot be seen again.")
    click.echo(issued.secret)


@opens_store(READS)
@service.command("list", epilog=EXIT_HELP)
@click.option(
    "--state",
    type=click.Choice(["active", "live", "inactive", "all"]),
    default="active",
    show_default=True,
    help="As for `tokenkeep list`.",
)
@pass_app
def list_(app: App, state: str) -> None:
    """List service tokens, newest first (tab-separated when piped, as `tokenkeep list`)."""
    tokens = app.store().list_service_tokens(state=state)
    if app.as_json:
        print_json([token_json(t) for t in tokens])
        return
    if not tokens:
        info("No service tokens. Create one with: tokenkeep service create NAME")
        return
    print_tokens(tokens)


@service.command("revoke", epilog=EXIT_HELP)
@click.argument("token_id", metavar="ID")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def revoke(app: App, token_id: str, yes: bool) -> None:
    """Revoke the service token ID, after a confirmation: its next call is refused (401)."""
    store = app.store()
    target = store.get_service_token(token_id)
    if not yes:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            raise CliError(
                "not revoking: no terminal to confirm on; pass --yes to revoke without asking",
                EXIT_USAGE,
            )
        if not click.confirm(f"Revoke service token '{target.name}'?", default=False, err=True):
            raise CliError("not revoked", EXIT_ERROR)
    store.revoke_service_token(target.id, actor=app.actor)
    if app.as_json:
        print_json({"revoked": [target.id]})
    else:
        info(f"Revoked service token '{target.name}' (id {target.id}).")


def register(cli: click.Group) -> None:
    from ..app import global_options

    for command in service.commands.values():
        command.params.extend(global_options())
    cli.add_command(service)
