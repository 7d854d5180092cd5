"""The ``tokenkeep`` group (global options, help) and :func:`main`, which turns every error into
one line on stderr and an exit code. Commands live in :mod:`.commands`, registered from
:data:`.commands.COMMANDS`."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Optional, Sequence

import click

from ..errors import TokenkeepError
from ..store import default_db_path
from .commands import COMMANDS
from .context import App
from .errors import error_message, fail
from .exit_codes import EXIT_ERROR, EXIT_HELP, EXIT_OK, EXIT_USAGE, CliError, exit_code_of


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_HELP,
)
@click.option(
    "--db",
    metavar="PATH",
    default=None,
    help="The token database (default: $TOKENKEEP_DB, else ~/.local/share/tokenkeep/tokens.db).",
)
@click.option(
    "--owner",
    metavar="NAME",
    default=None,
    help="Whose tokens to work on (default: the current OS user).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable JSON on stdout.")
@click.version_option(package_name="tokenkeep", prog_name="tokenkeep")
@click.pass_context
def cli(ctx: click.Context, db: Optional[str], owner: Optional[str], as_json: bool) -> None:
    """Create, list, edit, revoke and verify personal access tokens.

    A token is shown once, when it is created or rotated; afterwards only its id, name,
    scopes and dates are known. Scopes: collection, device, policy, each optionally
    narrowed to :read or :write (device:read).
    """
    app = App(db or default_db_path(), owner, as_json)
    ctx.obj = app
    ctx.call_on_close(app.close)


for _name in COMMANDS:
    importlib.import_module(f"{__package__}.commands.{_name}").register(cli)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the CLI; every error is one line on stderr and an exit code (:data:`EXIT_CODES`)."""
    try:
        rv = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name="tokenkeep",
            standalone_mode=False,
        )
    except click.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            # `tokenkeep` (or a group) alone: the formatted help, on stdout, as `gh` does.
            click.echo(e.ctx.get_help())
            sys.exit(0)
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        fail(e.format_message() + hint, EXIT_USAGE)
    except click.Abort:
        fail("aborted", EXIT_ERROR)
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code)
    except CliError as e:
        fail(str(e), e.code)
    except TokenkeepError as e:
        fail(error_message(e), exit_code_of(e))
    except BrokenPipeError:
        # The reader went away (`tokenkeep list | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except OSError as e:
        fail(f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}", EXIT_ERROR)
    except (TypeError, OverflowError, ValueError, UnicodeError):
        # Not echoed: a native TypeError lists its arguments. One line, no traceback.
        fail("an argument has the wrong type or is out of range (see --help)", EXIT_USAGE)
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)

