"""``manage.py tokenkeep …``: the tokenkeep CLI on the store of ``settings.TOKENKEEP``.

    python manage.py tokenkeep --owner alice create --name ci --scope device:read
    python manage.py tokenkeep --owner alice list --json
    python manage.py tokenkeep --help

Every argument goes to ``tokenkeep.cli.main`` after ``--db <TOKENKEEP["DB"]>``; the pepper
settings reach it as ``TOKENKEEP_PEPPER``/``TOKENKEEP_PEPPER_PREVIOUS`` for the call (never
in argv). The store is first opened with the settings (so a new database gets its
``PREFIX`` and ``VOCABULARY``). The exit status is the CLI's; from ``call_command`` a
non-zero one is a ``CommandError`` whose ``returncode`` is that status, and the output goes
to the command's ``stdout``/``stderr``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError

from tokenkeep.cli.exit_codes import EXIT_ERROR
from tokenkeep.django.conf import tokenkeep_settings
from tokenkeep.django.store import get_store
from tokenkeep.errors import StoreError

# Options manage.py itself reads anywhere on its command line (ManagementUtility.execute).
_MANAGE_OPTIONS = ("--settings", "--pythonpath")


class Command(BaseCommand):
    help = "Run the tokenkeep CLI on the token store of settings.TOKENKEEP (see: tokenkeep --help)."
    requires_system_checks: list[str] = []

    def create_parser(
        self, prog_name: str, subcommand: str, **kwargs: Any
    ) -> argparse.ArgumentParser:
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.add_argument("args", nargs="*", metavar="ARGS", help="the tokenkeep CLI's arguments")
        own = parser.parse_args

        def parse_args(
            args: Sequence[str] | None = None, namespace: Any = None
        ) -> argparse.Namespace:
            # call_command("tokenkeep", "--owner", "alice", "list"): every argument is the
            # CLI's, options included; Django's own options keep their defaults.
            options = own([], namespace)
            options.args = list(sys.argv[2:] if args is None else args)
            return options

        parser.parse_args = parse_args
        return parser

    def run_from_argv(self, argv: list[str]) -> None:
        """``manage.py tokenkeep ARGS``: ARGS are the CLI's, ``--help`` included."""
        status = run_cli(_without_manage_options(argv[2:]))
        sys.exit(status)

    def handle(self, *args: str, **options: Any) -> None:
        status = run_cli(args, stdout=self.stdout._out, stderr=self.stderr._out)
        if status:
            raise CommandError(f"tokenkeep exited with status {status}", returncode=status)


def run_cli(args: Sequence[str], stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """Run ``tokenkeep.cli.main`` on the configured store; returns its exit status."""
    from tokenkeep.cli import main

    config = tokenkeep_settings()
    try:
        get_store()  # creates a new database with the configured prefix and vocabulary
    except StoreError as e:  # the CLI's one-line error and status, not a traceback
        print(f"tokenkeep: error: {e}", file=stderr or sys.stderr)
        return EXIT_ERROR
    options = config.store_options
    env: dict[str, str | None] = {}
    if options.get("pepper") is not None:
        env["TOKENKEEP_PEPPER"] = options["pepper"]
    if options.get("previous_peppers"):
        env["TOKENKEEP_PEPPER_PREVIOUS"] = ",".join(options["previous_peppers"])
    with _environ(env), _streams(stdout, stderr):
        try:
            main(["--db", config.db, *args])
        except SystemExit as done:
            code = done.code
            if code is None:
                return 0
            return code if isinstance(code, int) else 1
    return 0


def _without_manage_options(argv: Sequence[str]) -> list[str]:
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in _MANAGE_OPTIONS:
            skip = True
        elif not arg.startswith(tuple(o + "=" for o in _MANAGE_OPTIONS)):
            out.append(arg)
    return out


@contextlib.contextmanager
def _environ(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update({k: v for k, v in values.items() if v is not None})
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def _streams(stdout: TextIO | None, stderr: TextIO | None) -> Iterator[None]:
    with contextlib.ExitStack() as stack:
        if stdout is not None and stdout is not sys.stdout:
            stack.enter_context(contextlib.redirect_stdout(stdout))
        if stderr is not None and stderr is not sys.stderr:
            stack.enter_context(contextlib.redirect_stderr(stderr))
        yield
