"""`custos scan`: sensitive-word detection over JSON lines, for a trial of the lexicon or a batch job."""

import sys

from django.core.management.base import BaseCommand, CommandError

from custos.detection import lexicon
from custos.detection.engine import Engine
from custos.detection.jsonlines import scan_lines


class _Prefixed:
    """Error lines as the rest of the custos command reports them: `custos scan: line 3: ...`."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(f"custos scan: {text}", ending="")
        self.stream.flush()


class Command(BaseCommand):
    help = "Scan chat messages for sensitive words: JSON lines {id, text, sender_role} in, {id, hits} out."
    # Tests hand the command their own input stream.
    stealth_options = ("stdin",)

    def add_arguments(self, parser):
        parser.add_argument(
            "--lexicon",
            action="append",
            default=[],
            metavar="FILE",
            help="more terms, one a line: term[<TAB>category[<TAB>severity]] (repeatable)",
        )
        parser.add_argument(
            "--allow",
            action="append",
            default=[],
            metavar="FILE",
            help="the company's own channels, one a line: hotline numbers, official accounts, WeChat ids (repeatable)",
        )

    def handle(self, *args, **options):
        try:
            extra = [term for path in options["lexicon"] for term in lexicon.load_terms(path)]
            allow = [
                line.strip()
                for path in options["allow"]
                for line in _lines(path)
                if line.strip() and not line.startswith("#")
            ]
            engine = Engine.from_default(extra_terms=extra, allow=allow)
        except lexicon.LexiconError as exc:
            raise CommandError(str(exc)) from None
        stdin = options.get("stdin") or getattr(sys.stdin, "buffer", sys.stdin)
        # Chinese as is where the output takes UTF-8; \u escapes (the same JSON) where it may not.
        encoding = getattr(self.stdout, "encoding", None) or "utf-8"
        ascii_only = encoding.lower().replace("-", "").replace("_", "") != "utf8"
        bad = scan_lines(engine, stdin, self.stdout, _Prefixed(self.stderr), ascii_only=ascii_only)
        self.stdout.flush()
        if bad:
            raise CommandError(
                f"{bad} input line{'s' if bad != 1 else ''} could not be read (see above); the others were scanned"
            )


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as f:
            return f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise lexicon.LexiconError(f"cannot read allow-list {path}: {exc}") from exc
