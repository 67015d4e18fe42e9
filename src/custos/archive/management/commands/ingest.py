"""`custos ingest FILE.jsonl --token TOKEN`: append events from a file, as the ingest API would.

One event per line, the same JSON as one element of POST /api/v1/ingest/events. The token (a
device or integration token, or CUSTOS_INGEST_TOKEN) says whose events they are. Lines go in
batches of 1,000; each bad line is reported as "line N: reason" and the others still go in.
Exits 1 if any line was rejected.
"""

import json
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.access import tokens
from custos.access.models import ApiToken
from custos.archive import services
from custos.archive.schemas import MAX_BATCH
from custos.core.errors import DomainError


class Command(BaseCommand):
    help = "Append conversation events from a JSON-lines file (a line per event), with a progress bar."

    def add_arguments(self, parser):
        parser.add_argument("file", metavar="FILE.jsonl")
        parser.add_argument(
            "--token", default=os.environ.get("CUSTOS_INGEST_TOKEN"), help="device or integration token"
        )

    def handle(self, *args, file, token, **options):
        if not token:
            raise CommandError("name the device or integration token: --token or CUSTOS_INGEST_TOKEN")
        found = tokens.authenticate(token)
        if found is None or found.kind not in (ApiToken.Kind.DEVICE, ApiToken.Kind.INTEGRATION):
            raise CommandError("the token is unknown, expired or revoked, or not a device/integration token")
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        counts = {"accepted": 0, "duplicate": 0, "rejected": 0}
        errors = []
        with path.open(encoding="utf-8") as fh, tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, file=self.stderr._out, leave=False
        ) as bar:
            batch: list[tuple[int, object]] = []
            for number, line in enumerate(fh, start=1):
                bar.update(len(line.encode()))
                if not line.strip():
                    continue
                try:
                    batch.append((number, json.loads(line)))
                except ValueError as exc:
                    counts["rejected"] += 1
                    errors.append(f"line {number}: not JSON ({exc.msg})")
                    continue
                if len(batch) == MAX_BATCH:
                    self._send(found, batch, counts, errors)
                    batch = []
            if batch:
                self._send(found, batch, counts, errors)
        for line in errors:
            self.stderr.write(line)
        self.stdout.write(
            f"{counts['accepted']} accepted, {counts['duplicate']} duplicates, {counts['rejected']} rejected"
        )
        if counts["rejected"]:
            raise CommandError(f"{counts['rejected']} line(s) rejected")

    def _send(self, token, batch, counts, errors):
        try:
            results = services.ingest(token, [event for _n, event in batch])
        except DomainError as exc:
            raise CommandError(exc.message) from None
        for (number, _event), result in zip(batch, results, strict=True):
            counts[result.status] += 1
            if result.status == "rejected":
                errors.append(f"line {number}: {result.reason}")
