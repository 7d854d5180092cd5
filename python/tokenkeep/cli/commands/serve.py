"""``tokenkeep serve``: the admin page (the Access Tokens tab) on the database."""

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
@pass_app
def serve(app: App, host: str, port: int, user: str | None) -> None:
    """Serve the admin page (the Access Tokens tab) for --user on the database."""
    try:
        from tokenkeep.web.admin import serve as serve_admin
    except ImportError as e:
        raise CliError(
            f"the admin page is not available ({e}); install it with: pip install 'tokenkeep[web]'",
            EXIT_ERROR,
        ) from None
    serve_admin(app.db, user=user or app.owner, host=host, port=port)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
