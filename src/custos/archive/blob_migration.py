"""Moving every stored attachment from the current blob store to another (`custos blobs migrate`).

The sealed files are copied byte for byte (nothing is decrypted or sealed again on the way), then
each copy is read back from the target, decrypted and re-hashed: it must hash to its name. A copy
already in the target that does so is left alone, so a migration that stopped (Ctrl-C, a network
failure) is resumed by running it again; a large file's multipart upload resumes where it stopped.
The source is never changed: once CUSTOS_BLOB_URL names the target and the service runs on it,
the operator removes the old files.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field

from custos.archive import blobs, blobstore
from custos.archive.models import Blob
from custos.core.errors import DomainError


@dataclass
class Outcome:
    copied: int = 0
    already: int = 0
    problems: list[str] = field(default_factory=list)


def _copy(sha256: str, source: blobstore.Store, target: blobstore.Store) -> None:
    if isinstance(source, blobstore.LocalStore):
        path = source.path_for(sha256)
        if not path.exists():
            raise FileNotFoundError(sha256)
        target.commit(sha256, path)
        return
    with source.open(sha256) as fh, target.writing(sha256) as tmp:
        with open(tmp, "wb") as out:
            shutil.copyfileobj(fh, out, length=1 << 20)
        target.commit(sha256, tmp)


def _verified(sha256: str, target: blobstore.Store) -> str | None:
    """None when the target's copy decrypts and hashes to its name, else what is wrong."""
    try:
        blobs.verify_blob(sha256, target)
    except blobs.BlobProblem as exc:
        return str(exc)
    return None


def migrate(
    source: blobstore.Store,
    target: blobstore.Store,
    *,
    progress: Callable[[int], None] | None = None,
    batch: int = 500,
) -> Outcome:
    outcome = Outcome()
    after = ""
    while True:
        names = list(
            Blob.objects.filter(sha256__gt=after).order_by("sha256").values_list("sha256", flat=True)[:batch]
        )
        if not names:
            return outcome
        for sha256 in names:
            after = sha256
            try:
                if target.size(sha256) is not None and _verified(sha256, target) is None:
                    outcome.already += 1
                else:
                    _copy(sha256, source, target)
                    wrong = _verified(sha256, target)
                    if wrong:
                        outcome.problems.append(f"attachment {sha256}: the copy does not verify: {wrong}")
                    else:
                        outcome.copied += 1
            except FileNotFoundError:
                outcome.problems.append(f"attachment {sha256}: missing from the source store")
            except (OSError, DomainError) as exc:  # StoreError is an OSError; a full disk too
                outcome.problems.append(f"attachment {sha256}: {exc}")
            if progress:
                progress(1)


def total() -> int:
    return Blob.objects.count()
