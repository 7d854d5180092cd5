"""The ``tokenkeep`` command line (also ``python -m tokenkeep``).

Tables for people, ``--json`` for scripts, and exit codes a script can branch on
(:data:`EXIT_CODES`). A secret is printed once, to stdout only, by ``create`` and ``rotate``;
``verify`` reads it from stdin or ``TOKENKEEP_TOKEN``, never from argv, which every user
can read with ``ps``. No secret ever appears in an error message.

    $ tokenkeep create --name ci-deploy --scope device --scope policy --expires-in 30d
    $ tokenkeep list
    $ echo "$TOKEN" | tokenkeep verify --scope device:read && echo ok

Layout: :mod:`.app` (the group, the global options, :func:`main`), :mod:`.commands` (one
module per command, each with ``register(cli)``; a new command is a new module and one line
in ``commands.COMMANDS``), :mod:`.context` (the run's state and store; ``@opens_store``),
:mod:`.output` (JSON forms, messages), :mod:`.tables` (terminal tables, piped rows),
:mod:`.argtypes`, :mod:`.exit_codes`, :mod:`.errors` (error reports, field -> flag),
:mod:`.secrets_file`, :mod:`.bulk` (CSV), :mod:`.revoke_file`, :mod:`.completion`.

A command module looks like this::

    @opens_store(READS)                     # or WRITES (the default), CREATES
    @click.command(epilog=EXIT_HELP)
    @pass_app
    def hello(app: App) -> None:
        \"\"\"Say hello.\"\"\"
        print_json({"owner": app.owner}) if app.as_json else info(f"hello {app.owner}")

    def register(cli: click.Group) -> None:
        cli.add_command(hello)

``--db``, ``--owner`` and ``--json`` are added to every registered command by the group.
"""

from .app import cli, main
from .argtypes import parse_date, parse_duration, parse_expiry, split_scopes
from .exit_codes import EXIT_CODES, EXIT_USAGE

__all__ = [
    "main",
    "cli",
    "EXIT_CODES",
    "EXIT_USAGE",
    "parse_duration",
    "parse_date",
    "parse_expiry",
    "split_scopes",
]
