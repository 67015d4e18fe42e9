"""The `custos` command: every operational task behind one name.

`custos COMMAND [options]` runs the Django management command of that name with Custos's
settings. `custos --help` lists the commands operators need, a line each; a wrong command or
argument prints one line and exits non-zero.
"""

import os
import sys

# The commands an operator uses, in the order `custos --help` lists them. Others of Django's
# (shell, dbshell, showmigrations, ...) still work but are not advertised.
COMMANDS = [
    "serve",
    "worker",
    "migrate",
    "demo",
    "createadmin",
    "ledger",
    "customers",
    "pool",
    "ingest",
    "simulate",
    "archive",
    "blobs",
    "wecom",
    "device",
    "field",
    "care",
    "insights",
    "keys",
    "scan",
    "evidence",
    "retention",
    "check",
    "shell",
]


def _usage() -> str:
    from django.core.management import get_commands, load_command_class

    lines = ["usage: custos COMMAND [options]   (custos COMMAND --help for a command's options)", "", "commands:"]
    available = get_commands()
    for name in COMMANDS:
        if name not in available:
            continue
        command = load_command_class(available[name], name)
        summary = (command.help or "").strip().splitlines()[0] if command.help else ""
        lines.append(f"  {name:<13} {summary}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:2] == ["evidence", "verify"]:
        # Offline by design: no settings, no database, so it runs on any machine holding the ZIP.
        from custos.evidence.offline import main as verify

        return verify(argv[2:])
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "custos.settings")
    import django
    from django.core.management import get_commands

    django.setup()
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    if argv[0] in {"--version", "version"}:
        import custos

        print(f"custos {custos.__version__}")
        return 0
    name = argv[0]
    if name not in get_commands():
        print(f"custos: unknown command '{name}' (custos --help lists them)", file=sys.stderr)
        return 2
    from custos.core.command import run_command

    return run_command(name, argv[1:])


if __name__ == "__main__":
    sys.exit(main())
