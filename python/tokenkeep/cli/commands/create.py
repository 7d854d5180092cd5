"""``tokenkeep create``: one token from flags, or many with ``--from FILE.csv``."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

import click

from ...client_networks import split_networks
from ..argtypes import DATE, DURATION, split_scopes
from ..bulk import create_bulk
from ..completion import scope_option
from ..context import CREATES, App, opens_store, pass_app
from ..exit_codes import EXIT_ERROR, EXIT_HELP, CliError
from ..output import describe, info, issued_json, print_json, token_json
from ..secrets_file import open_secrets_file, write_secrets


@opens_store(CREATES)
@click.command(epilog=EXIT_HELP)
@click.option(
    "--name", "-n", metavar="NAME", help="A unique name for the token (1-100 characters)."
)
@click.option(
    "--description",
    "-d",
    metavar="TEXT",
    help="An optional note: what the token is for (at most 200 characters).",
)
@scope_option("A scope the token grants; repeat or separate with commas (device,policy:read).")
@click.option("--expires-in", type=DURATION, help="Lifetime, e.g. 30d, 12h, 2w (default: 30d).")
@click.option(
    "--expires-at", type=DATE, help="Expiry date, ISO 8601: 2027-01-31 (end of day, UTC)."
)
@click.option(
    "--allow-from",
    "networks",
    metavar="CIDR",
    multiple=True,
    help="Accept the token only from this network (10.0.0.0/8, 2001:db8::/32, 192.0.2.7); "
    "repeat or separate with commas. Default: from anywhere.",
)
@click.option(
    "--from",
    "from_file",
    metavar="FILE.csv",
    help="Create many tokens at once from a CSV with columns name, scopes, expires; "
    "all or nothing.",
)
@click.option(
    "--secrets-out",
    metavar="FILE",
    help="Write the secrets as JSON lines to this new file (mode 0600) instead of stdout.",
)
@pass_app
def create(
    app: App,
    name: str | None,
    description: str | None,
    scopes: tuple[str, ...],
    expires_in: timedelta | None,
    expires_at: datetime | None,
    networks: tuple[str, ...],
    from_file: str | None,
    secrets_out: str | None,
) -> None:
    """Create a token and print its secret, once.

    The secret goes to stdout and nothing else does, so `$(tokenkeep create ...)` and
    `| tee` work; the details go to stderr. With --from, every row of the CSV becomes a
    token in one transaction: if one row is wrong, none is created. The `scopes` column
    separates scopes with spaces or `;`, the `expires` column holds a duration (30d) or
    a date (2027-01-31) and may be empty (then --expires-in/--expires-at or 30d applies).
    """
    if expires_in is not None and expires_at is not None:
        raise click.UsageError("give --expires-in or --expires-at, not both")
    if from_file is not None:
        if name is not None or scopes or description is not None or networks:
            raise click.UsageError(
                "--from FILE takes names and scopes from the file; "
                "drop --name/--scope/--description/--allow-from"
            )
        create_bulk(app, from_file, expires_in, expires_at, secrets_out)
        return
    if name is None:
        raise click.UsageError("give the token a name with --name NAME (or use --from FILE.csv)")
    scope_list = split_scopes(scopes)  # none: the engine says at least one is needed
    out = open_secrets_file(secrets_out) if secrets_out else None
    try:
        issued = app.store().create(
            app.owner,
            name,
            scope_list,
            expires_in=expires_in,
            expires_at=expires_at,
            description=description,
            networks=split_networks(networks),
            actor=app.actor,
        )
    except BaseException:
        if out is not None:
            out.close()
            os.unlink(secrets_out)  # type: ignore[arg-type]
        raise
    if out is not None:
        try:
            with out:
                write_secrets(out, [issued])
        except OSError as e:
            app.store().revoke(app.owner, issued.info.id, actor=app.actor)
            raise CliError(
                f"cannot write {secrets_out}: {e.strerror}; the new token was revoked again",
                EXIT_ERROR,
            ) from None
        if app.as_json:
            print_json(token_json(issued.info))
        info(f"Created token {describe(issued.info)}.")
        info(
            f"Its secret is in {secrets_out} (mode 0600); it is shown only once and cannot be seen again."
        )
        return
    if app.as_json:
        print_json(issued_json(issued))
        return
    info(f"Created token {describe(issued.info)}.")
    info("Copy the token now: it is shown only once and cannot be seen again.")
    click.echo(issued.secret)


def register(cli: click.Group) -> None:
    cli.add_command(create)
