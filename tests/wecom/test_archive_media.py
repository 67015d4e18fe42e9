"""Files of archived messages: fetched in chunks by the worker, resumed after a failure, stored by SHA-256."""

import hashlib
import json
import os

from custos.archive import blobs
from custos.archive.models import Message
from custos.ledger.models import Entry
from custos.wecom import archive_media, archive_pull
from custos.wecom.models import ArchiveMedia, ArchiveMessage
from tests.wecom import archive_support, sdk_fixtures
from tests.wecom.archive_support import message, record

standin_library = sdk_fixtures.standin_library
standin_env = sdk_fixtures.standin_env
archive = archive_support.archive


def image(msgid, sdkfileid, data, *, md5=True, minute=0):
    body = {"md5sum": hashlib.md5(data).hexdigest() if md5 else "", "filesize": len(data), "sdkfileid": sdkfileid}  # noqa: S324
    return message(msgid, "image", minute=minute, image=body)


def test_a_fetch_cut_off_resumes_from_the_saved_index(archive):
    data = os.urandom(5000)
    archive.media("img1", data)
    archive.env.setenv("STANDIN_SDK_MEDIA_CHUNK", "1000")
    archive.env.setenv("STANDIN_SDK_MEDIA_FAIL_AT", "3")  # the third GetMediaData call fails (10001, network)
    archive.serve([record(1, image("p1", "img1", data, md5=False))])
    assert archive_pull.pull().stored.waiting_media == 1
    assert not Entry.objects.filter(source_id="p1").exists()  # the message waits for its file
    media = ArchiveMedia.objects.get()
    assert media.status == "waiting"

    assert archive_media.fetch(media.pk) == "waiting"
    media.refresh_from_db()
    assert (media.bytes_done, media.index_buf, media.attempts) == (2000, "Range:bytes=2000-2999", 1)
    assert "10001" in media.reason
    assert archive_media.part_path(media.pk).stat().st_size == media.part_length
    assert data[:1000] not in archive_media.part_path(media.pk).read_bytes()  # sealed, not in clear

    # Proof that the second run asks only for the rest: the first 2,000 bytes at WeCom change, the file
    # stored keeps the ones fetched before.
    archive.media("img1", b"\0" * 2000 + data[2000:])
    archive.env.delenv("STANDIN_SDK_MEDIA_FAIL_AT")
    assert archive_media.fetch(media.pk) == "fetched"
    media.refresh_from_db()
    assert media.sha256 == hashlib.sha256(data).hexdigest() and media.size == 5000
    assert blobs.read_bytes(media.sha256) == data
    assert not archive_media.part_path(media.pk).exists()
    entry = json.loads(Entry.objects.get(source="wecom_archive", source_id="p1").payload)
    assert entry["attachment"] == {"sha256": media.sha256, "name": "p1.jpg", "size": 5000, "mime": "image/jpeg"}
    assert entry["raw"]["image"]["sdkfileid"] == "img1"
    assert Message.objects.get(source_id="p1").attachment_sha256 == media.sha256
    assert ArchiveMessage.objects.get(msgid="p1").status == "appended"


def test_md5_is_checked_and_a_good_file_goes_in(archive):
    data = os.urandom(3000)
    archive.media("img2", data)
    archive.serve([record(1, image("q1", "img2", data))])
    archive_pull.pull()
    assert archive_media.fetch_due() == 1
    assert ArchiveMedia.objects.get().status == "fetched"
    # WeCom's md5sum disagrees with the bytes: tried again, not stored.
    archive.media("img3", data)
    archive.serve([record(1, image("q1", "img2", data)),
                   record(2, message("q2", "image", image={"md5sum": "0" * 32, "filesize": 3000, "sdkfileid": "img3"}))])  # fmt: skip
    archive_pull.pull()
    bad = ArchiveMedia.objects.get(sdkfileid="img3")
    assert archive_media.fetch(bad.pk) == "waiting"
    bad.refresh_from_db()
    assert "does not match WeCom's md5sum" in bad.reason and bad.bytes_done == 0


def test_too_large_fails_with_the_reason_and_the_message_goes_in_without_it(archive, settings):
    settings.CUSTOS_WECOM_MEDIA_MAX_BYTES = 1000
    data = os.urandom(5000)
    archive.media("big", data)
    archive.serve([record(1, image("big1", "big", data))])
    archive_pull.pull()
    media = ArchiveMedia.objects.get()
    assert archive_media.fetch(media.pk) == "failed"
    media.refresh_from_db()
    assert "larger than the limit of 1000" in media.reason
    entry = json.loads(Entry.objects.get(source_id="big1").payload)
    assert entry["attachment"] is None
    assert entry["raw"]["media"]["status"] == "failed" and "CUSTOS_WECOM_MEDIA_MAX_BYTES" in entry["raw"]["media"]["reason"]


def test_a_bad_fileid_fails_at_once_and_retries_run_out(archive, settings):
    archive.serve([record(1, image("gone1", "not-there", b"x"))])
    archive_pull.pull()
    media = ArchiveMedia.objects.get()
    assert archive_media.fetch(media.pk) == "failed"  # 10005: asking again will not help
    media.refresh_from_db()
    assert "10005" in media.reason and media.attempts == 0
    assert Entry.objects.filter(source_id="gone1").exists()

    settings.CUSTOS_WECOM_MEDIA_ATTEMPTS = 2
    data = os.urandom(10)
    archive.media("flaky", data)
    archive.env.setenv("STANDIN_SDK_MEDIA_FAIL_AT", "1")
    archive.serve([record(1, image("gone1", "not-there", b"x")), record(2, image("flaky1", "flaky", data))])
    archive_pull.pull()
    flaky = ArchiveMedia.objects.get(sdkfileid="flaky")
    assert archive_media.fetch(flaky.pk) == "waiting"
    assert archive_media.fetch(flaky.pk) == "failed"
    flaky.refresh_from_db()
    assert flaky.reason.startswith("after 2 attempts")


def test_a_recall_of_a_message_waiting_for_its_file_follows_it(archive):
    data = os.urandom(100)
    archive.media("img9", data)
    archive.serve([
        record(1, image("w1", "img9", data)),
        record(2, message("w2", "revoke", minute=1, revoke={"pre_msgid": "w1"}) | {"action": "recall"}),
        record(3, message("w3", minute=2)),
    ])  # fmt: skip
    stored = archive_pull.pull().stored
    assert (stored.appended, stored.waiting_media) == (1, 2)
    assert ArchiveMessage.objects.get(msgid="w2").waits_for == "w1"
    archive_media.fetch_due()
    first, recall = Entry.objects.get(source_id="w1"), Entry.objects.get(source_id="w2")
    assert recall.kind == "message.recalled" and recall.seq > first.seq
    assert Message.objects.get(source_id="w1").recalled_at is not None
