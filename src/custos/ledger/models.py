"""The ledger: one append-only table of entries, the tree nodes over them, and signed heads.

Entries, nodes and heads are never updated or deleted: database triggers (triggers.py) refuse
it, with one narrow exception, a retention redaction setting an entry's payload to NULL.
Actor, unit and customer are plain ids, not foreign keys: history must not cascade or change
when the rows it describes do.
"""

from django.db import models

from custos.core.sealed import SealedTextField

# The associated data every payload is sealed under (custos.core.sealed).
PAYLOAD_SEAL = "ledger.entry.payload"


class Entry(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    kind = models.CharField(max_length=64, db_index=True)
    occurred_at = models.DateTimeField(db_index=True)
    recorded_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True, db_index=True)
    unit_id = models.BigIntegerField(null=True, db_index=True)
    customer_id = models.BigIntegerField(null=True, db_index=True)
    source = models.CharField(max_length=64)
    source_id = models.CharField(max_length=200)
    # Canonical JSON of the body, sealed at rest (AES-GCM under the field keys): the model reads
    # it opened. payload_hash and the leaf commit to the plain text, so re-sealing it under a new
    # key (`custos keys rotate`) changes no leaf. NULL only after a retention redaction.
    payload = SealedTextField(null=True, seal_as=PAYLOAD_SEAL)
    payload_hash = models.CharField(max_length=64)
    # SHA-256(0x00 || leaf data), see hashing.py: what the Merkle tree is built over.
    leaf_hash = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["seq"]
        constraints = [
            models.UniqueConstraint(fields=["source", "source_id"], name="ledger_entry_unique_source"),
        ]
        verbose_name_plural = "entries"

    def __str__(self):
        return f"#{self.seq} {self.kind}"

    @property
    def redacted(self) -> bool:
        return self.payload is None


class LedgerState(models.Model):
    """One row. Appenders lock it, so seqs are handed out without gaps or duplicates.

    A trigger lets `size` only grow, so shrinking the log takes dropping triggers first.
    """

    size = models.BigIntegerField(default=0)

    def __str__(self):
        return f"ledger of {self.size} entries"


class Node(models.Model):
    """The hash of a complete, aligned subtree of 2**level leaves (level >= 8), index-th from the left.

    Stored when an append completes it, so roots and proofs read O(log n) nodes and at most a
    couple of 256-leaf blocks instead of the whole log.
    """

    pk = models.CompositePrimaryKey("level", "index")
    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        ordering = ["level", "index"]

    def __str__(self):
        return f"node({self.level}, {self.index})"


class SignedHead(models.Model):
    """A signed tree head: the log's size and root at a moment, signed with Ed25519.

    The signed bytes are RFC 6962's TreeHeadSignature (see heads.py); timestamp is kept to the
    millisecond because that is what is signed.
    """

    size = models.BigIntegerField()
    root_hash = models.BinaryField(max_length=32)
    timestamp = models.DateTimeField()
    signature = models.BinaryField(max_length=64)
    key_id = models.CharField(max_length=64)

    class Meta:
        ordering = ["id"]
        get_latest_by = "id"

    def __str__(self):
        return f"head #{self.pk} (size {self.size})"
