"""Running a management command as `custos NAME`: one line for every error, never a traceback."""

import argparse
import sys
from contextlib import contextmanager

from django.core.management import CommandError, get_commands, load_command_class
from django.core.management.base import CommandParser


def _one_line_error(parser: CommandParser, message: str):
    # argparse would print a usage block before the error; operators want the error, in one line.
    print(f"{parser.prog}: {message} (see {parser.prog} --help)", file=sys.stderr)
    sys.exit(2)


@contextmanager
def _one_line_errors():
    # Subparsers are built by argparse from the class, so the class is patched, but only while
    # parsing: call_command in the same process (tests, the shell) keeps Django's behaviour.
    original = CommandParser.error
    CommandParser.error = _one_line_error
    try:
        yield
    finally:
        CommandParser.error = original


# Django's own options, for a Django project's developer: they still work (custos migrate -v0)
# but an operator's --help lists only what the command is about.
DJANGO_OPTIONS = {
    "--version", "--verbosity", "--settings", "--pythonpath", "--traceback", "--no-color",
    "--force-color", "--skip-checks",
}  # fmt: skip


def _hide_django_options(parser: argparse.ArgumentParser) -> None:
    for action in parser._actions:
        if DJANGO_OPTIONS.intersection(action.option_strings):
            action.help = argparse.SUPPRESS


def run_command(name: str, args: list[str]) -> int:
    command = load_command_class(get_commands()[name], name)
    with _one_line_errors():
        parser = command.create_parser("custos", name)
        _hide_django_options(parser)
        options = vars(parser.parse_args(args))
    positional = options.pop("args", ())
    try:
        command.execute(*positional, **options)
    except CommandError as exc:
        print(f"custos {name}: {exc}", file=sys.stderr)
        return exc.returncode or 1
    except KeyboardInterrupt:
        return 130
    return 0
