"""``tokenkeep completion bash|zsh|fish``: the shell script that completes tokenkeep."""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

from ..exit_codes import EXIT_HELP

_SHELLS = ("bash", "zsh", "fish")
_SETUP = {
    "bash": 'eval "$(tokenkeep completion bash)"   # in ~/.bashrc (bash 4.4 or later)',
    "zsh": 'eval "$(tokenkeep completion zsh)"    # in ~/.zshrc',
    "fish": "tokenkeep completion fish > ~/.config/fish/completions/tokenkeep.fish",
}


@click.command(epilog=EXIT_HELP)
@click.argument("shell", type=click.Choice(_SHELLS))
@click.pass_context
def completion(ctx: click.Context, shell: str) -> None:
    """Print the script that completes commands, options, scopes and token names.

    \b
      eval "$(tokenkeep completion bash)"    # ~/.bashrc
      eval "$(tokenkeep completion zsh)"     # ~/.zshrc
      tokenkeep completion fish > ~/.config/fish/completions/tokenkeep.fish

    Scopes come from the database's vocabulary and names from your tokens when you press
    Tab (with --db/--owner on the line, or TOKENKEEP_DB), so they stay current.
    """
    root = ctx.find_root().command
    cls = get_completion_class(shell)
    assert cls is not None  # the three shells click ships
    script = cls(root, {}, "tokenkeep", "_TOKENKEEP_COMPLETE").source()
    click.echo(f"# tokenkeep completion for {shell}; set up with:\n#   {_SETUP[shell]}\n{script}")


def register(cli: click.Group) -> None:
    cli.add_command(completion)
