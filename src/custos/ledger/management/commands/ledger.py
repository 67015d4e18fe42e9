"""`custos ledger ...`: sign, prove, verify and rebuild from the ledger.

custos ledger head              sign the log now; print the signed head as JSON
custos ledger prove SEQ [--size N]   inclusion proof of entry SEQ (default: against the latest head)
custos ledger verify            recompute every leaf, node, root and signature; exit 1 at the first problem
custos ledger rebuild NAME      empty projection NAME and replay the ledger into it
custos ledger pubkey            the public key heads are signed with (PEM)
"""

import argparse
import json
import os

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.core.errors import DomainError
from custos.ledger import heads, merkle, projections, tree
from custos.ledger.models import Entry, SignedHead
from custos.ledger.verify import Problem, verify

PROGRESS_FROM = 50_000  # entries; below this verify is quick enough to need no progress bar


def _seq(text: str) -> int:
    # A message of our own instead of argparse's "invalid int value: 'x'".
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an entry number (0, 1, 2, ...)")
    return int(text)


class Command(BaseCommand):
    help = "Sign, prove and verify the append-only ledger; rebuild projections from it."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("head", help="sign the log now and print the signed head as JSON")
        prove = actions.add_parser("prove", help="inclusion proof of an entry, as JSON")
        prove.add_argument("seq", type=_seq, metavar="SEQ")
        prove.add_argument(
            "--size", type=_seq, help="prove against the first N entries (default: the latest head)"
        )
        check = actions.add_parser("verify", help="recompute every leaf, node, root and signature")
        check.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="processes checking ranges of entries in parallel (default: one per CPU)",
        )
        rebuild = actions.add_parser("rebuild", help="empty a projection and replay the ledger into it")
        rebuild.add_argument("name", metavar="NAME")
        actions.add_parser("pubkey", help="print the public key heads are signed with (PEM)")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def _json(self, data) -> None:
        self.stdout.write(json.dumps(data, indent=2, ensure_ascii=False))

    def do_head(self, **options):
        head = heads.sign_head()
        self._json(heads.head_json(head))

    def do_prove(self, seq, size=None, **options):
        head = None
        if size is None:
            head = heads.latest()
            if head is None:
                raise CommandError("no signed head yet: run `custos ledger head` first, or pass --size")
            size = head.size
        else:
            head = SignedHead.objects.filter(size=size).order_by("-id").first()
        if seq >= size:
            raise CommandError(f"entry {seq} is not among the first {size} entries")
        proof = tree.inclusion_proof(seq, size)
        root = bytes(head.root_hash) if head else tree.root(size)
        leaf = Entry.objects.filter(seq=seq).values_list("leaf_hash", flat=True).first()
        if leaf is None:
            raise CommandError(f"entry {seq} is missing from the log: run custos ledger verify")
        leaf = bytes(leaf)
        if not merkle.verify_inclusion(leaf, seq, size, proof, root):
            raise CommandError(
                f"the proof of entry {seq} does not verify against the root: run custos ledger verify"
            )
        self._json(
            {
                "seq": seq,
                "size": size,
                "leaf_hash": leaf.hex(),
                "proof": [p.hex() for p in proof],
                "root_hash": root.hex(),
                "head": heads.head_json(head) if head else None,
            }
        )

    def do_verify(self, **options):
        size = tree.log_size()
        bar = tqdm(
            total=size, unit=" entries", file=self.stderr._out, disable=size < PROGRESS_FROM, leave=False
        )
        try:
            report = verify(progress=bar.update)
        except Problem as exc:
            raise CommandError(str(exc)) from None
        finally:
            bar.close()
        self.stdout.write(
            f"ledger verified: {report.size} entries, {report.nodes} stored nodes, {report.heads} signed heads"
        )

    def do_rebuild(self, name, **options):
        count = projections.rebuild(name)
        self.stdout.write(f"projection {name} rebuilt from {count} entries")

    def do_pubkey(self, **options):
        self.stdout.write(heads.public_key_pem().rstrip("\n"))
