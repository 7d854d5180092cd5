"""``tokenkeep serve``: the admin page (the Access Tokens tab) on the database; ``--api``: the
RFC 7662 / RFC 7009 endpoints instead."""

from __future__ import annotations

import click

from ..context import CREATES, App, opens_store, pass_app
from ..exit_codes import EXIT_ERROR, EXIT_HELP, CliError


@opens_store(CREATES)
@click.command(epilog=EXIT_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port."
)
@click.option(
    "--user",
    metavar="NAME",
    default=None,
    help="Who is signed in to the page (a single-user local run; default: --owner).",
)
@click.option(
    "--api",
    is_flag=True,
    help="Serve only POST /oauth/introspect and /oauth/revoke (RFC 7662, RFC 7009) for "
    "other services, which authenticate with a service token (tokenkeep service create).",
)
@pass_app
def serve(app: App, host: str, port: int, user: str | None, api: bool) -> None:
    """Serve the admin page (the Access Tokens tab) for --user on the database, or with
    --api the OAuth introspection and revocation endpoints."""
    try:
        if api:
            from tokenkeep.web.api import serve_api

            if user is not None:
                raise click.UsageError("--api serves no page: drop --user")
            serve_api(app.db, host=host, port=port)
            return
        from tokenkeep.web.admin import serve as serve_admin
    except ImportError as e:
        raise CliError(
            f"the admin page is not available ({e}); install it with: pip install 'tokenkeep[web]'",
            EXIT_ERROR,
        ) from None
    serve_admin(app.db, user=user or app.owner, host=host, port=port)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
