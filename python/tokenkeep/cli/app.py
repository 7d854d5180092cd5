"""The ``tokenkeep`` group and :func:`main`, which turns every error into one report on stderr
and an exit code. Commands live in :mod:`.commands`, registered from
:data:`.commands.COMMANDS`; each gets the global options too, so ``tokenkeep list --owner
alice`` works as well as ``tokenkeep --owner alice list``."""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from .._version import __version__
from ..errors import TokenkeepError
from .commands import COMMANDS
from .context import App
from .errors import error_message, fail
from .exit_codes import EXIT_ERROR, EXIT_HELP, EXIT_OK, EXIT_USAGE, CliError, exit_code_of

_DB_HELP = "The token database (default: $TOKENKEEP_DB, else ~/.local/share/tokenkeep/tokens.db)."
_OWNER_HELP = "Whose tokens to work on (default: the current OS user)."
_JSON_HELP = "Machine-readable JSON: one object, or an array for a list; errors as JSON on stderr."


def _set(attr: str) -> Any:
    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is not None and value is not False:
            setattr(ctx.ensure_object(App), attr, value)

    return callback


def global_options() -> list[click.Parameter]:
    """``--db``, ``--owner`` and ``--json``, as accepted by the group and by every command.
    Given in both places, the one after the command wins."""
    return [
        click.Option(
            ["--db"], metavar="PATH", expose_value=False, callback=_set("db_opt"), help=_DB_HELP
        ),
        click.Option(
            ["--owner"],
            metavar="NAME",
            expose_value=False,
            callback=_set("owner_opt"),
            help=_OWNER_HELP,
        ),
        click.Option(
            ["--json"], is_flag=True, expose_value=False, callback=_set("as_json"), help=_JSON_HELP
        ),
    ]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=EXIT_HELP,
    params=global_options(),
)
@click.version_option(
    __version__, "--version", "-V", prog_name="tokenkeep", message="%(prog)s %(version)s"
)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Create, list, edit, revoke and verify personal access tokens.

    A token is shown once, when it is created or rotated; afterwards only its id, name,
    scopes and dates are known. Scopes come from the store: `tokenkeep scopes` lists them.
    """
    ctx.call_on_close(ctx.ensure_object(App).close)


def _register() -> None:
    for name in COMMANDS:
        importlib.import_module(f"{__package__}.commands.{name}").register(cli)
    for command in cli.commands.values():
        given = {opt for p in command.params for opt in p.opts}
        command.params.extend(p for p in global_options() if not given & set(p.opts))


_register()


def _usage_field(e: click.UsageError) -> str | None:
    param = getattr(e, "param", None)
    return param.opts[0] if param is not None and getattr(param, "opts", None) else None


def main(argv: Sequence[str] | None = None) -> None:
    """Run the CLI; every error is one report on stderr and an exit code (:data:`EXIT_CODES`)."""
    args = list(argv) if argv is not None else sys.argv[1:]
    app = App()

    def as_json() -> bool:
        # A usage error can come before --json is parsed: then argv (up to "--") says.
        options = args[: args.index("--")] if "--" in args else args
        return app.as_json or "--json" in options

    try:
        rv = cli.main(args=args, prog_name="tokenkeep", standalone_mode=False, obj=app)
    except click.UsageError as e:
        if type(e).__name__ == "NoArgsIsHelpError" and e.ctx is not None:
            # `tokenkeep` (or a group) alone: the formatted help, on stdout, as `gh` does.
            click.echo(e.ctx.get_help())
            sys.exit(0)
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        fail(e.format_message() + hint, EXIT_USAGE, as_json=as_json(), field=_usage_field(e))
    except click.Abort:
        fail("aborted", EXIT_ERROR, as_json=as_json())
    except click.ClickException as e:
        fail(e.format_message(), e.exit_code, as_json=as_json())
    except CliError as e:
        fail(str(e), e.code, as_json=as_json(), field=e.field, error=e.cause)
    except TokenkeepError as e:
        fail(error_message(e), exit_code_of(e), as_json=as_json(), field=e.field, error=e)
    except BrokenPipeError:
        # The reader went away (`tokenkeep list | head`): stop quietly, as cat does.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        fail("interrupted", 130, as_json=as_json())
    except OSError as e:
        fail(
            f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}",
            EXIT_ERROR,
            as_json=as_json(),
        )
    except (TypeError, OverflowError, ValueError, UnicodeError):
        # Not echoed: a native TypeError lists its arguments. One line, no traceback.
        fail(
            "an argument has the wrong type or is out of range (see --help)",
            EXIT_USAGE,
            as_json=as_json(),
        )
    sys.exit(rv if isinstance(rv, int) else EXIT_OK)
