"""The chat archive pull (会话内容存档): WeCom's records → decrypted → mapped → the ledger, page by page.

One page (up to 1,000 records of GetChatData) is one transaction: its entries are appended
(ledger.append_batch: projections and detection inside), the records it could not use are kept aside
(HeldRecord: no key or a wrong key for their publickey_ver; ArchiveMessage: waiting for a file, staff
only, unknown member, unfit), and the cursor moves to the page's last seq — all or nothing. A crash
anywhere before the commit leaves the cursor where it was and the page is read again; appending is
idempotent by (source "wecom_archive", source_id msgid), so a record is never lost nor doubled.

One pull at a time per company: a lease on the settings row taken with a conditional UPDATE (any
database, any number of workers; a dead worker's lease runs out after LEASE), and inside each page's
transaction the cursor is re-read under a row lock and the page refused if another pull moved it.

Media (why a message with a file waits): an entry names its attachment by SHA-256 inside the Merkle
leaf, and entries never change, but WeCom gives only an md5sum and an sdkfileid; the SHA-256 is known
once the file is fetched. Appending first with no attachment would leave the file forever outside the
entry that proves it (no `ledger verify` of it, no evidence package with it, nothing in the console).
So an image, voice, video or file message waits (ArchiveMessage waiting_media, its content sealed)
while the worker fetches its file (archive_media), and is appended then with the attachment
{sha256, name, size, mime}; a file that cannot be had (too large, expired at WeCom, failing after every
retry) does not hold the message back: it is appended without the attachment, the reason in
raw.media. Its entry's time is the message's own msgtime, so the chat reads in order; a recall of a
message still waiting waits for it and is appended right after it.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
import uuid
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from custos.archive import consent, matching
from custos.core.errors import Conflict
from custos.ledger.services import Event, append_batch
from custos.wecom import archive_keys, archive_sealed, finance_crypto
from custos.wecom.archive_mapping import Mapped, Member, map_message, userids
from custos.wecom.finance_crypto import RandomKeyDecryptor, RandomKeyError, UnknownKeyVersion
from custos.wecom.finance_sdk import (
    MAX_LIMIT,
    FinanceError,
    FinanceProtocolError,
    FinanceSdk,
    FinanceSdkError,
)
from custos.wecom.models import (
    ArchiveKey,
    ArchiveMedia,
    ArchiveMessage,
    ArchiveSettings,
    HeldRecord,
    MemberLink,
)

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
PULL_TIMEOUT = 30  # seconds per GetChatData call


@dataclass
class Stored:
    """What became of a batch of records or messages."""

    records: int = 0
    opened: int = 0  # decrypted (or given decrypted)
    appended: int = 0
    duplicates: int = 0
    held: int = 0
    aside: int = 0
    waiting_media: int = 0
    media_ids: list[int] = field(default_factory=list)

    def add(self, other: Stored) -> None:
        for name in ("records", "opened", "appended", "duplicates", "held", "aside", "waiting_media"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.media_ids += other.media_ids

    def line(self) -> str:
        return (
            f"{self.records} records: {self.appended} appended, {self.duplicates} already there, "
            f"{self.waiting_media} waiting for their file, {self.aside} set aside, {self.held} held (no key)"
        )


@dataclass
class PullResult:
    status: str  # done | busy | not_configured | failed
    stored: Stored = field(default_factory=Stored)
    pages: int = 0
    cursor: int = 0
    message: str = ""


# -- members --------------------------------------------------------------------------------------------
def members_for(ids: set[str]) -> dict[str, Member]:
    """userid → the employee linked to that WeCom member (wecom.sync keeps the links)."""
    if not ids:
        return {}
    rows = MemberLink.objects.filter(userid__in=list(ids), employee__isnull=False).values_list(
        "userid", "employee_id", "employee__unit_id"
    )
    return {u: Member(e, unit) for u, e, unit in rows}


# -- SDK ------------------------------------------------------------------------------------------------
def open_sdk(row: ArchiveSettings) -> FinanceSdk:
    from custos.wecom import services

    return FinanceSdk(archive_keys.sdk_path(row), services.connection().corp_id, archive_keys.secret(row))


def decrypting_sdk(row: ArchiveSettings) -> FinanceSdk:
    """For DecryptData only (no Init: held records are opened without WeCom's servers)."""
    from custos.wecom import services

    path = archive_keys.sdk_path(row)
    if not path:
        raise Conflict("the Finance SDK library is not configured (CUSTOS_WECOM_SDK_PATH): held records need it")
    return FinanceSdk(path, services.connection().corp_id or "-", "-")


# -- storing --------------------------------------------------------------------------------------------
def _held_reason(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, UnknownKeyVersion):
        return HeldRecord.Reason.UNKNOWN_KEY, str(exc)
    if isinstance(exc, RandomKeyError):
        return HeldRecord.Reason.WRONG_KEY, str(exc)
    if isinstance(exc, FinanceSdkError) and exc.code == 10006:
        return HeldRecord.Reason.WRONG_KEY, f"DecryptData: {exc.message}"
    return HeldRecord.Reason.UNDECRYPTABLE, str(exc)[:300]


def store_records(
    sdk: FinanceSdk,
    keys: RandomKeyDecryptor,
    records: list[dict],
    *,
    cursor_from: int | None = None,
    cursor_to: int | None = None,
) -> Stored:
    """Decrypt records of GetChatData (or held ones) and store them (store_messages)."""
    decoded, held = open_records(sdk, keys, records)
    stored = store_messages(decoded, held=held, cursor_from=cursor_from, cursor_to=cursor_to)
    stored.records = len(records)
    return stored


def open_records(sdk: FinanceSdk, keys: RandomKeyDecryptor, records: list[dict], processes=None) -> tuple[list, list]:
    """(decoded [(seq, message)], held [(record, reason, detail)]): no database, so it may run ahead
    in another thread while the previous page is being appended. With `processes` (a pool set up by
    key_processes) the RSA step runs there, on the other cores."""
    decoded: list[tuple[int | None, dict]] = []
    held: list[tuple[dict, str, str]] = []
    random_keys: list | None = None
    if processes is not None:
        items = [(r["publickey_ver"], r["encrypt_random_key"]) for r in records]
        step = max(1, len(items) // (2 * decrypt_threads()))
        chunks = [items[i : i + step] for i in range(0, len(items), step)]
        random_keys = [finance_crypto.rebuild(o) for chunk in processes.map(finance_crypto.open_keys, chunks) for o in chunk]

    def open_one(i_record):
        i, record = i_record
        try:
            if random_keys is None:
                random_key = keys.decrypt(record["publickey_ver"], record["encrypt_random_key"])
            elif isinstance(random_keys[i], Exception):
                raise random_keys[i]
            else:
                random_key = random_keys[i]
            return sdk.decrypt(random_key, record["encrypt_chat_msg"])
        except (UnknownKeyVersion, RandomKeyError, FinanceSdkError, FinanceProtocolError) as exc:
            return exc

    # The RSA step and DecryptData are most of a record's cost and both run outside the GIL for much of
    # their time (OpenSSL, a ctypes call); DecryptData uses no sdk instance, so threads may share it.
    threads = decrypt_threads()
    if threads > 1 and len(records) > 1:
        with ThreadPoolExecutor(threads) as pool:
            opened = list(pool.map(open_one, enumerate(records), chunksize=64))
    else:
        opened = [open_one(r) for r in enumerate(records)]
    for record, result in zip(records, opened, strict=True):
        if isinstance(result, Exception):
            if isinstance(result, FinanceSdkError) and result.retryable:
                raise result  # not the record's fault: the page is read again
            reason, detail = _held_reason(result)
            held.append((record, reason, detail))
            continue
        decoded.append((record["seq"], result))
    return decoded, held


PROCESS_PAGE = 200  # records in a page worth sending their RSA to worker processes


def key_pems() -> dict[int, bytes]:
    return {
        k.version: archive_sealed.unseal(k.private_key_encrypted, archive_sealed.key_aad(k.version)).encode()
        for k in ArchiveKey.objects.all()
    }


@contextmanager
def key_processes(enabled: bool, pems: dict[int, bytes]):
    """Worker processes holding the private keys, for a pull that reads full pages; None otherwise
    (a pull of a few new records every minute opens them here: spawning costs more)."""
    if not enabled or decrypt_threads() < 2 or not pems:
        yield None
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(decrypt_threads(), os.cpu_count() or 1), mp_context=context,
                             initializer=finance_crypto.init_worker, initargs=(pems,)) as pool:  # fmt: skip
        yield pool


def decrypt_threads() -> int:
    configured = getattr(settings, "CUSTOS_WECOM_DECRYPT_THREADS", None)
    return max(1, int(configured if configured is not None else min(4, os.cpu_count() or 1)))


def _append(events: list[Event]):
    # One seam for the whole batch (the tests interrupt a page here to see it come back whole).
    consent.withhold(events)  # a customer who refused archiving: who and when only
    return append_batch(events)


def store_messages(
    decoded: list[tuple[int | None, dict]],
    *,
    held: list[tuple[dict, str, str]] = (),
    cursor_from: int | None = None,
    cursor_to: int | None = None,
    resolved: dict[str, tuple[dict | None, dict | None]] | None = None,
    fetch_media: bool = True,
) -> Stored:
    """Map decrypted messages and store them in one transaction, with the cursor when given.

    `resolved` (msgid → (attachment, media note)) marks messages whose file is settled: appended now,
    with the attachment or with the note in raw.media. With fetch_media False (an import of old
    records, whose files WeCom no longer serves) a media message is appended at once, its sdkfileid
    and md5sum in raw.
    """
    resolved = resolved or {}
    ids: set[str] = set()
    for _seq, message in decoded:
        ids |= userids(message)
    members = members_for(ids)
    mapped: list[tuple[int | None, dict, Mapped]] = [(seq, m, map_message(m, members)) for seq, m in decoded]
    stored = Stored(opened=len(decoded), held=len(held))

    with transaction.atomic():
        row = None
        if cursor_to is not None:
            row = ArchiveSettings.objects.select_for_update().get(pk=1)
            if row.cursor != cursor_from:
                raise Conflict(f"another pull moved the cursor to {row.cursor} (this one read after {cursor_from})")

        msgids = [m.msgid for _s, _m, m in mapped if m.msgid]
        existing = {a.msgid: a for a in ArchiveMessage.objects.filter(msgid__in=msgids)} if msgids else {}
        # Messages of this batch that will wait for their file, and earlier ones still waiting.
        waiting = {
            m.msgid for _s, _m, m in mapped
            if m.event is not None and m.media is not None and fetch_media and m.msgid not in resolved
        }  # fmt: skip
        # A message already in the archive (its file settled before) is not made to wait again.
        waiting -= {k for k, a in existing.items() if a.status == ArchiveMessage.Status.APPENDED}
        targets = {m.recalls for _s, _m, m in mapped if m.recalls} - waiting
        if targets:
            waiting |= set(
                ArchiveMessage.objects.filter(msgid__in=list(targets), status=ArchiveMessage.Status.WAITING_MEDIA)
                .exclude(msgid__in=list(resolved))
                .values_list("msgid", flat=True)
            )

        events: list[Event] = []
        appended_msgids: list[str] = []
        new_rows: list[ArchiveMessage] = []
        changed_rows: list[ArchiveMessage] = []
        media_specs: dict[str, Any] = {}
        for seq, message, m in mapped:
            if m.event is not None and (m.msgid in waiting or (m.recalls and m.recalls in waiting)):
                status, reason = ArchiveMessage.Status.WAITING_MEDIA, ""
                if m.msgid in waiting:
                    media_specs[m.msgid] = m.media
                    reason = "waiting for its file"
                else:
                    reason = f"waiting for {m.recalls}, the message it recalls, to get its file"
                stored.waiting_media += 1
            elif m.event is not None:
                if m.msgid in resolved:
                    attachment, note = resolved[m.msgid]
                    m.event.payload["attachment"] = attachment
                    if note:
                        m.event.payload["raw"]["media"] = note
                events.append(m.event)
                appended_msgids.append(m.msgid)
                continue
            else:
                status, reason = m.aside, m.reason
                stored.aside += 1
            if not m.msgid:
                continue  # nothing to key it by (an unfit message without msgid): counted, logged
            sealed = archive_sealed.seal(json.dumps(message, ensure_ascii=False), archive_sealed.message_aad(m.msgid))
            found = existing.get(m.msgid)
            target = found or ArchiveMessage(msgid=m.msgid)
            target.seq = seq if seq is not None else target.seq
            target.msgtype, target.msgtime = m.msgtype, m.occurred_at
            target.status, target.reason = status, reason[:300]
            target.message_encrypted = sealed
            target.waits_for = (m.recalls or "") if status == ArchiveMessage.Status.WAITING_MEDIA and m.msgid not in media_specs else ""
            (changed_rows if found else new_rows).append(target)

        if events:
            matching.match_customers(events)
            done = _append(events)
            for msgid, result in zip(appended_msgids, done, strict=True):
                if result.duplicate:
                    stored.duplicates += 1
                else:
                    stored.appended += 1
                found = existing.get(msgid)
                if found is not None and found.status != ArchiveMessage.Status.APPENDED:
                    found.status, found.reason, found.message_encrypted = ArchiveMessage.Status.APPENDED, "", ""
                    found.entry_seq = result.seq
                    changed_rows.append(found)

        if new_rows:
            ArchiveMessage.objects.bulk_create(new_rows, ignore_conflicts=True)
        if changed_rows:
            ArchiveMessage.objects.bulk_update(
                changed_rows, ["seq", "msgtype", "msgtime", "status", "reason", "message_encrypted", "waits_for", "entry_seq"]
            )
        if media_specs:
            owners = dict(ArchiveMessage.objects.filter(msgid__in=list(media_specs)).values_list("msgid", "pk"))
            have = set(ArchiveMedia.objects.filter(message_id__in=list(owners.values())).values_list("message_id", flat=True))
            fresh = [
                ArchiveMedia(message_id=owners[msgid], sdkfileid=spec.sdkfileid, md5sum=spec.md5sum[:64],
                             expected_size=spec.size, name=spec.name, mime=spec.mime)
                for msgid, spec in media_specs.items() if owners.get(msgid) and owners[msgid] not in have
            ]  # fmt: skip
            ArchiveMedia.objects.bulk_create(fresh)
            stored.media_ids = list(
                ArchiveMedia.objects.filter(message_id__in=list(owners.values()), status=ArchiveMedia.Status.WAITING)
                .values_list("pk", flat=True)
            )

        opened_seqs = [seq for seq, _m in decoded if seq is not None]
        if opened_seqs:
            HeldRecord.objects.filter(seq__in=opened_seqs, status=HeldRecord.Status.HELD).update(
                status=HeldRecord.Status.IMPORTED, released_at=timezone.now()
            )
        if held:
            _hold(held)

        if row is not None:
            row.cursor = cursor_to
            row.records_pulled += len(decoded) + len(held)
            row.save(update_fields=["cursor", "records_pulled"])
        if stored.media_ids:
            ids_ = list(stored.media_ids)
            transaction.on_commit(lambda: _fetch_soon(ids_))
    return stored


def _hold(held: list[tuple[dict, str, str]]) -> None:
    seqs = [r["seq"] for r, _reason, _detail in held]
    known = {h.seq: h for h in HeldRecord.objects.filter(seq__in=seqs)}
    fresh, changed = [], []
    for record, reason, detail in held:
        found = known.get(record["seq"])
        if found is not None:
            found.reason, found.detail, found.status = reason, detail[:300], HeldRecord.Status.HELD
            changed.append(found)
            continue
        fresh.append(
            HeldRecord(
                seq=record["seq"], msgid=str(record["msgid"])[:200], publickey_ver=record["publickey_ver"],
                encrypt_random_key=record["encrypt_random_key"], encrypt_chat_msg=record["encrypt_chat_msg"],
                reason=reason, detail=detail[:300],
            )
        )  # fmt: skip
    if fresh:
        HeldRecord.objects.bulk_create(fresh, ignore_conflicts=True)
    if changed:
        HeldRecord.objects.bulk_update(changed, ["reason", "detail", "status"])


def _fetch_soon(media_ids: list[int]) -> None:
    from custos.wecom import tasks

    if media_ids:
        tasks.archive_fetch_media_batch(list(media_ids))


def unsealed_message(row: ArchiveMessage) -> dict:
    return json.loads(archive_sealed.unseal(row.message_encrypted, archive_sealed.message_aad(row.msgid)))


def settle_media(media: ArchiveMedia, attachment: dict | None, note: dict | None) -> Stored:
    """The file of a waiting message is settled: append the message (and recalls waiting for it)."""
    owner = media.message
    decoded = [(owner.seq, unsealed_message(owner))]
    resolved = {owner.msgid: (attachment, note)}
    for recall in ArchiveMessage.objects.filter(waits_for=owner.msgid, status=ArchiveMessage.Status.WAITING_MEDIA):
        decoded.append((recall.seq, unsealed_message(recall)))
    return store_messages(decoded, resolved=resolved)


def retry_set_aside(limit: int = 1000) -> Stored:
    """Messages set aside for a member the directory did not know: again, now that it may."""
    rows = list(ArchiveMessage.objects.filter(status=ArchiveMessage.Status.UNKNOWN_MEMBER).order_by("id")[:limit])
    if not rows:
        return Stored()
    return store_messages([(r.seq, unsealed_message(r)) for r in rows])


# -- the pull -------------------------------------------------------------------------------------------
def _acquire(owner: str) -> bool:
    archive_keys.settings_row()
    now = timezone.now()
    free = Q(lock_until__isnull=True) | Q(lock_until__lt=now) | Q(lock_owner=owner)
    return ArchiveSettings.objects.filter(free, pk=1).update(lock_owner=owner, lock_until=now + LEASE) == 1


def _release(owner: str) -> None:
    ArchiveSettings.objects.filter(pk=1, lock_owner=owner).update(lock_owner="", lock_until=None)


def _finish(ok: bool, message: str) -> None:
    ArchiveSettings.objects.filter(pk=1).update(last_pull_at=timezone.now(), last_pull_ok=ok, last_pull_message=message[:500])


def pull(*, limit: int = MAX_LIMIT, max_pages: int | None = None, timeout: int = PULL_TIMEOUT) -> PullResult:
    """Pull every new record (or max_pages pages) now; one pull at a time (another: status busy)."""
    row = archive_keys.settings_row()
    ready = archive_keys.ready(row)
    if not ready.ok:
        return PullResult("not_configured", cursor=row.cursor, message=ready.reason)
    owner = uuid.uuid4().hex
    if not _acquire(owner):
        return PullResult("busy", cursor=row.cursor, message="another pull is running")
    result = PullResult("done", cursor=row.cursor)
    try:
        keys = archive_keys.decryptor()
        proxy, passwd = row.proxy or None, archive_keys.proxy_password(row) or None
        pems = key_pems()  # read here: the thread that reads ahead touches no database
        with open_sdk(row) as sdk, ThreadPoolExecutor(1, thread_name_prefix="archive-ahead") as ahead, ExitStack() as stack:
            pool: list = []

            def fetch(after: int):
                # Reading and opening the next page (SDK calls, RSA in other processes) goes on while
                # this thread appends the page before it; only this one thread uses the SDK handle.
                page = sdk.get_chat_data(after, limit, timeout=timeout, proxy=proxy, passwd=passwd)
                if not page:
                    return None
                last = max(r["seq"] for r in page)
                if last <= after:
                    raise FinanceProtocolError(f"GetChatData after seq {after} returned nothing newer")
                if not pool:
                    pool.append(stack.enter_context(key_processes(len(page) >= PROCESS_PAGE, pems)))
                return page, last, open_records(sdk, keys, page, pool[0])

            cursor = row.cursor
            coming = ahead.submit(fetch, cursor)
            while coming is not None:
                got = coming.result()
                if got is None:
                    break
                page, last, (decoded, held) = got
                more = max_pages is None or result.pages + 1 < max_pages
                coming = ahead.submit(fetch, last) if more else None
                stored = store_messages(decoded, held=held, cursor_from=cursor, cursor_to=last)
                stored.records = len(page)
                result.stored.add(stored)
                cursor = result.cursor = last
                result.pages += 1
                ArchiveSettings.objects.filter(pk=1, lock_owner=owner).update(lock_until=timezone.now() + LEASE)
        result.stored.add(retry_set_aside())
    except (FinanceError, Conflict) as exc:
        result.status, result.message = "failed", str(exc)
        _finish(False, result.message)
        log.warning("wecom archive pull failed at seq %s: %s", result.cursor, exc)
        return result
    finally:
        _release(owner)
    result.message = result.stored.line()
    wrong = HeldRecord.objects.filter(status=HeldRecord.Status.HELD, reason=HeldRecord.Reason.WRONG_KEY)
    first = wrong.order_by("seq").first()
    if first is not None:
        # Clear, and not only in a log: the key on file for this version is the wrong one.
        result.message += (
            f"; {wrong.count()} held because the key on file does not open them "
            f"(publickey_ver {first.publickey_ver}, seq {first.seq}): add the right private key"
        )
    _finish(first is None, result.message)
    return result


def pull_soon() -> bool:
    """Called by the msgaudit_notify callback: the worker pulls now (a running pull makes it a no-op)."""
    if not archive_keys.settings_row().enabled:
        return False
    from custos.wecom import tasks

    tasks.archive_pull_now()
    return True
