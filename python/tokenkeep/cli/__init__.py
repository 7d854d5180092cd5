"""The ``tokenkeep`` command line (also ``python -m tokenkeep``).

Tables for people, ``--json`` for scripts, and exit codes a script can branch on
(:data:`EXIT_CODES`). A secret is printed once, to stdout only, by ``create`` and ``rotate``;
``verify`` reads it from stdin or ``TOKENKEEP_TOKEN``, never from argv, which every user
can read with ``ps``. No secret ever appears in an error message.

    $ tokenkeep create --name ci-deploy --scope device --scope policy --expires-in 30d
    $ tokenkeep list
    $ echo "$TOKEN" | tokenkeep verify --scope device:read && echo ok

Layout: :mod:`.app` (the group and :func:`main`), :mod:`.commands` (one module per command,
each with ``register(cli)``), :mod:`.context` (the run's state and store), :mod:`.output`,
:mod:`.argtypes`, :mod:`.exit_codes`, :mod:`.errors`, :mod:`.secrets_file`, :mod:`.bulk`
(CSV), :mod:`.revoke_file`.
"""

from .app import cli, main
from .argtypes import parse_date, parse_duration, parse_expiry, split_scopes
from .exit_codes import EXIT_CODES, EXIT_USAGE

__all__ = ["main", "cli", "EXIT_CODES", "EXIT_USAGE", "parse_duration", "parse_date", "parse_expiry", "split_scopes"]
