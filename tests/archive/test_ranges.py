"""Range requests on attachments: players seek in voice notes and videos, from real encrypted blobs."""

import json
import os

import pytest

from custos.archive import blobs
from custos.archive.models import Message
from custos.core import byteranges
from custos.ledger.models import Entry

C = blobs.CHUNK  # the store's real chunk size (1 MiB)
VIDEO = os.urandom(2 * C + 1234)  # three sealed chunks, the last one short
SIZE = len(VIDEO)


@pytest.fixture
def video(company, device, ev):
    """A video message in 天河店's chat: the blob stored for real, referenced by a real entry."""
    blob = blobs.store_bytes(VIDEO)
    attachment = {"sha256": blob.sha256, "name": "试穿.mp4", "size": SIZE, "mime": "video/mp4"}
    phone = device(company.sales_a)
    r = phone.send(ev.msg("v1", None, contact="wm_li", msgtype="video", attachment=attachment))
    assert r.json()["accepted"] == 1
    return Message.objects.get(source_id="v1")


def _get(client, message, range_header=None, **headers):
    if range_header is not None:
        headers["HTTP_RANGE"] = range_header
    return client.get(f"/conversations/m/{message.pk}/attachment/", **headers)


def _body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def _partial(client, message, range_header, start, stop):
    r = _get(client, message, range_header)
    assert r.status_code == 206, (range_header, r.status_code)
    assert r["Content-Range"] == f"bytes {start}-{stop - 1}/{SIZE}"
    assert r["Content-Length"] == str(stop - start)
    assert r["Accept-Ranges"] == "bytes" and r["Content-Type"] == "video/mp4"
    body = _body(r)
    assert body == VIDEO[start:stop], range_header
    return r


def test_whole_file_says_it_accepts_ranges(company, video, console):
    r = _get(console(company.manager_a), video)
    assert r.status_code == 200 and r["Accept-Ranges"] == "bytes" and r["Content-Length"] == str(SIZE)
    assert r["ETag"] == f'"{video.attachment_sha256}"'
    assert _body(r) == VIDEO


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [
        ("bytes=0-0", 0, 1),  # the first byte
        (f"bytes=0-{C - 1}", 0, C),  # exactly the first chunk
        (f"bytes={C}-{2 * C - 1}", C, 2 * C),  # exactly the second chunk
        (f"bytes={C - 1}-{C}", C - 1, C + 1),  # the two bytes either side of a chunk boundary
        (f"bytes={C - 10}-{2 * C + 10}", C - 10, 2 * C + 11),  # across all three chunks
        (f"bytes={2 * C}-", 2 * C, SIZE),  # the short last chunk, open-ended
        (f"bytes={SIZE - 1}-{SIZE - 1}", SIZE - 1, SIZE),  # the last byte
        (f"bytes={SIZE - 1}-", SIZE - 1, SIZE),
        (f"bytes={SIZE - 5}-{SIZE + 1000}", SIZE - 5, SIZE),  # a last-pos past the end is clamped
        ("bytes=-1", SIZE - 1, SIZE),  # suffix: the last byte
        ("bytes=-1500", SIZE - 1500, SIZE),  # suffix reaching back into the second chunk
        (f"bytes=-{SIZE + 99}", 0, SIZE),  # a suffix longer than the file is all of it
        (f"bytes={C + 17}-", C + 17, SIZE),
        (" BYTES = 5 - 9 ", 5, 10),  # case and whitespace tolerated
    ],
)
def test_single_ranges(company, video, console, header, start, stop):
    _partial(console(company.manager_a), video, header, start, stop)


@pytest.mark.parametrize("header", [f"bytes={SIZE}-", f"bytes={SIZE + 5}-{SIZE + 10}", "bytes=-0"])
def test_unsatisfiable_range_is_416(company, video, console, header):
    r = _get(console(company.manager_a), video, header)
    assert r.status_code == 416
    assert r["Content-Range"] == f"bytes */{SIZE}"
    assert str(SIZE) in r.content.decode()  # says how big the file is


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=abc", "bytes=9-3", "bytes=-", "items=0-5", "bytes 0-5", "bytes=1-2-3"]
)
def test_several_or_invalid_ranges_get_the_whole_file(company, video, console, header):
    r = _get(console(company.manager_a), video, header)
    assert r.status_code == 200 and "Content-Range" not in r
    assert _body(r) == VIDEO


def test_if_range(company, video, console):
    client = console(company.manager_a)
    etag = f'"{video.attachment_sha256}"'
    r = _get(client, video, "bytes=10-19", HTTP_IF_RANGE=etag)
    assert r.status_code == 206 and _body(r) == VIDEO[10:20]
    for stale in ('"0000"', "Wed, 21 Oct 2015 07:28:00 GMT"):
        r = _get(client, video, "bytes=10-19", HTTP_IF_RANGE=stale)
        assert r.status_code == 200 and _body(r) == VIDEO


def test_scope_and_audit_are_those_of_a_whole_download(company, video, console):
    # Outside the chat's scope a range is refused as the whole file is: 404, and nothing recorded.
    for who in (company.manager_b, company.sales_a_peer):
        assert _get(console(who), video, "bytes=0-99").status_code == 404
        assert _get(console(who), video, f"bytes={SIZE}-").status_code == 404
        assert not Entry.objects.filter(kind="access.attachment_viewed", actor_id=who.pk).exists()
    # In scope, seeking is reading: the day's first look is one entry, however many ranges follow.
    client = console(company.manager_a)
    for header in ("bytes=0-", f"bytes={C}-", "bytes=-100"):
        assert _get(client, video, header).status_code == 206
    seen = Entry.objects.filter(kind="access.attachment_viewed", actor_id=company.manager_a.pk)
    assert seen.count() == 1 and json.loads(seen.get().payload)["sha256"] == video.attachment_sha256


def test_only_the_chunks_of_the_range_are_decrypted(company, video, console):
    """Spoil the first chunk on disk: ranges in later chunks still read, the whole file does not."""
    path = blobs.path_for(video.attachment_sha256)
    raw = bytearray(path.read_bytes())
    raw[blobs.HEADER + 4 + 100] ^= 0xFF  # a byte of chunk 0's ciphertext
    path.write_bytes(bytes(raw))
    client = console(company.manager_a)
    _partial(client, video, f"bytes={C}-{C + 99}", C, C + 100)
    _partial(client, video, "bytes=-10", SIZE - 10, SIZE)
    with pytest.raises(blobs.BlobProblem):
        _body(_get(client, video, "bytes=50-150"))
    with pytest.raises(blobs.BlobProblem):
        _body(_get(client, video))


def test_a_file_cut_short_or_swapped_chunks_fail(company, video):
    sha = video.attachment_sha256
    path = blobs.path_for(sha)
    whole = path.read_bytes()
    record = 4 + C + blobs.TAG
    # The last chunk removed: chunk 1 was sealed as "not last" and reading past it finds nothing.
    path.write_bytes(whole[: blobs.HEADER + 2 * record])
    with pytest.raises(blobs.BlobProblem):
        b"".join(blobs.open_range(sha, SIZE - 1, SIZE, SIZE))
    # Chunks 0 and 1 swapped: each is bound to its index.
    head, c0, c1, rest = (whole[: blobs.HEADER], whole[blobs.HEADER : blobs.HEADER + record],
                          whole[blobs.HEADER + record : blobs.HEADER + 2 * record], whole[blobs.HEADER + 2 * record :])  # fmt: skip
    path.write_bytes(head + c1 + c0 + rest)
    with pytest.raises(blobs.BlobProblem):
        b"".join(blobs.open_range(sha, C, C + 1, SIZE))
    path.write_bytes(whole)
    assert b"".join(blobs.open_range(sha, C, C + 1, SIZE)) == VIDEO[C : C + 1]


@pytest.mark.parametrize("size", [1, 15, 16, 17, 48, 100])
def test_every_range_of_small_chunked_blobs(monkeypatch, db, size):
    """Blobs stored with 16-byte chunks (sizes on, before and after boundaries): every [start, stop)."""
    monkeypatch.setattr(blobs, "CHUNK", 16)
    data = os.urandom(size)
    blob = blobs.store_bytes(data)
    monkeypatch.setattr(blobs, "CHUNK", 1 << 20)  # reading does not depend on the constant
    assert blobs.read_bytes(blob.sha256) == data
    for start in range(size):
        for stop in range(start + 1, size + 1):
            assert b"".join(blobs.open_range(blob.sha256, start, stop, size)) == data[start:stop]
    with pytest.raises(ValueError):
        blobs.open_range(blob.sha256, 0, size + 1, size)


def test_an_empty_attachment_has_no_satisfiable_range(company, device, ev, console):
    blob = blobs.store_bytes(b"")
    device(company.sales_a).send(ev.msg("e1", None, contact="wm_li", msgtype="file",
                                        attachment={"sha256": blob.sha256, "name": "空.txt", "size": 0, "mime": "audio/ogg"}))  # fmt: skip
    message = Message.objects.get(source_id="e1")
    client = console(company.manager_a)
    r = _get(client, message)
    assert r.status_code == 200 and _body(r) == b""
    for header in ("bytes=0-", "bytes=-5"):
        r = _get(client, message, header)
        assert r.status_code == 416 and r["Content-Range"] == "bytes */0"


def test_wanted_without_http():
    etag = '"x"'
    assert byteranges.wanted(None, None, etag, 10) is None
    assert byteranges.wanted("bytes=2-4", None, etag, 10) == (2, 5)
    assert byteranges.wanted("bytes=-3", None, etag, 10) == (7, 10)
    assert byteranges.wanted("bytes=8-", None, etag, 10) == (8, 10)
    assert byteranges.wanted("bytes=0-1,3-4", None, etag, 10) is None
    assert byteranges.wanted("bytes=" + "9" * 300, None, etag, 10) is None  # absurdly long: ignored
    with pytest.raises(byteranges.Unsatisfiable):
        byteranges.wanted("bytes=10-", None, etag, 10)
    assert byteranges.content_range(2, 5, 10) == "bytes 2-4/10"
