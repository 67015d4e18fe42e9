"""The chat archive pull through the stand-in Finance SDK: paging, keys, crash resume, detection."""

import pytest

from custos.alerts.models import Alert
from custos.archive import selectors
from custos.archive.models import Message
from custos.core.errors import InvalidInput
from custos.ledger.models import Entry
from custos.wecom import archive_keys, archive_pull, tasks
from custos.wecom.models import ArchiveMessage, ArchiveSettings, HeldRecord, MemberLink
from tests.wecom import archive_support, sdk_fixtures
from tests.wecom.archive_support import message, record, rsa_key

standin_library = sdk_fixtures.standin_library
standin_env = sdk_fixtures.standin_env
archive = archive_support.archive


def archived(**filters):
    return Entry.objects.filter(source="wecom_archive", **filters)


def test_pages_2500_records_and_a_second_pull_finds_nothing_new(archive):
    archive.serve(record(seq, message(f"m{seq}", minute=seq / 100)) for seq in range(1, 2501))
    result = archive_pull.pull()
    assert result.status == "done", result.message
    assert result.pages == 3 and result.cursor == 2500
    assert result.stored.appended == 2500
    assert archived(kind="message.sent").count() == 2500
    assert ArchiveSettings.objects.get(pk=1).cursor == 2500
    again = archive_pull.pull()
    assert again.status == "done" and again.pages == 0 and archived().count() == 2500


def test_key_rotation_walk_holds_old_records_until_their_key_is_added(archive, django_capture_on_commit_callbacks):
    # The company's key pair was rotated: records 1-3 are under version 1, 4-6 under version 2, and
    # only the newer key is on file.
    archive_keys.settings_row()
    from custos.wecom.models import ArchiveKey

    ArchiveKey.objects.all().delete()
    archive.add_key(2)
    archive.serve([*(record(s, message(f"old{s}"), 1) for s in (1, 2, 3)), *(record(s, message(f"new{s}"), 2) for s in (4, 5, 6))])
    result = archive_pull.pull()
    assert result.status == "done" and result.cursor == 6  # the cursor passes held records: they are kept aside
    assert set(archived().values_list("source_id", flat=True)) == {"new4", "new5", "new6"}
    held = HeldRecord.objects.filter(status="held")
    assert sorted(held.values_list("seq", "publickey_ver", "reason")) == [(s, 1, "unknown_key") for s in (1, 2, 3)]

    # A wrong key for version 1 is refused with the reason, and nothing is imported.
    with pytest.raises(InvalidInput, match="解不开公钥版本 1 下暂存的记录"):
        archive_keys.add_key(actor=None, version=1, pem=archive_support.pem(rsa_key(3)))
    assert held.count() == 3

    with django_capture_on_commit_callbacks(execute=True):
        archive.add_key(1)  # the worker imports what version 1 held
    assert set(archived().values_list("source_id", flat=True)) == {f"old{s}" for s in (1, 2, 3)} | {"new4", "new5", "new6"}
    assert not HeldRecord.objects.filter(status="held").exists()
    assert archived().count() == 6
    assert Entry.objects.filter(kind="wecom.archive_key_added").count() >= 2


def test_a_wrong_key_on_file_holds_the_records_with_a_clear_reason(archive):
    from custos.wecom.models import ArchiveKey

    ArchiveKey.objects.all().delete()
    # Version 1's key on file is another key (a mix-up at upload): no held records yet, so it is accepted.
    archive_keys.add_key(actor=None, version=1, pem=archive_support.pem(rsa_key(3)))
    archive.serve([record(1, message("a1"), 1)])
    result = archive_pull.pull()
    assert archived().count() == 0
    held = HeldRecord.objects.get(seq=1)
    assert held.reason == "wrong_key"
    assert "publickey_ver 1" in result.message and "add the right private key" in result.message
    assert ArchiveSettings.objects.get(pk=1).last_pull_ok is False
    # The right key replaces it, and the record goes in.
    archive.add_key(1)
    assert archive_keys.release_held(1) == 1
    assert archived().count() == 1


def test_a_crash_mid_page_loses_nothing_and_doubles_nothing(archive, monkeypatch):
    archive.serve(record(seq, message(f"c{seq}")) for seq in range(1, 2501))
    real, calls = archive_pull._append, []

    def append_then_die(events):
        done = real(events)  # the page's entries are written inside its transaction...
        calls.append(len(events))
        if len(calls) == 2:
            raise RuntimeError("worker killed")  # ...and the process dies before the commit
        return done

    monkeypatch.setattr(archive_pull, "_append", append_then_die)
    with pytest.raises(RuntimeError):
        archive_pull.pull()
    row = ArchiveSettings.objects.get(pk=1)
    assert row.cursor == 1000 and not row.lock_owner  # the first page stands, the lease is given back
    assert archived().count() == 1000
    monkeypatch.setattr(archive_pull, "_append", real)
    result = archive_pull.pull()
    assert result.status == "done" and result.cursor == 2500
    ids = list(archived().values_list("source_id", flat=True))
    assert len(ids) == len(set(ids)) == 2500


def test_one_pull_at_a_time(archive):
    archive.serve([record(1, message("x1"))])
    assert archive_pull._acquire("another-worker")
    assert archive_pull.pull().status == "busy"
    archive_pull._release("another-worker")
    assert archive_pull.pull().status == "done"


def test_the_callback_starts_a_pull(archive):
    archive.serve([record(1, message("cb1"))])
    assert tasks.archive_notice() is True  # Huey runs immediately in the tests
    assert archived(source_id="cb1").exists()


def test_not_configured_says_what_is_missing(company, db):
    result = archive_pull.pull()
    assert result.status == "not_configured" and "企业ID" in result.message


def test_an_imported_violation_raises_an_alert_and_is_found_by_search(archive, company):
    archive.serve([
        record(1, message("v1", text={"content": "您好，新款到了"})),
        record(2, message("v2", text={"content": "我私下给你便宜点，加我私人微信"})),
        record(3, message("v3", sender="wmCustomer1", to=["sales_a"], text={"content": "好的"})),
    ])  # fmt: skip
    assert archive_pull.pull().status == "done"
    entry = archived().get(source_id="v2")
    assert entry.actor_id == company.sales_a.pk and entry.kind == "message.sent"
    assert archived().get(source_id="v3").kind == "message.received"
    assert Alert.objects.filter(employee=company.sales_a).exists()
    found = selectors.search(company.manager_a, selectors.SearchFilters(q="私人微信"))
    assert [m.source_id for m in found] == ["v2"]
    assert Message.objects.filter(source_id="v1", conversation__key="wmCustomer1").exists()


def test_staff_only_and_unknown_members_are_set_aside_then_retried(archive, company):
    archive.serve([
        record(1, message("i1", sender="sales_a", to=["sales_b"])),
        record(2, message("u1", sender="newhire", to=["wmCustomer9"])),
    ])  # fmt: skip
    archive_pull.pull()
    assert dict(ArchiveMessage.objects.values_list("msgid", "status")) == {"i1": "internal", "u1": "unknown_member"}
    assert "newhire" in ArchiveMessage.objects.get(msgid="u1").reason
    assert archived().count() == 0
    # The directory sync links the new member: the next pull appends the message set aside.
    MemberLink.objects.create(userid="newhire", employee=company.sales_a2)
    archive_pull.pull()
    assert archived().get(source_id="u1").actor_id == company.sales_a2.pk
    assert ArchiveMessage.objects.get(msgid="u1").status == "appended"
    assert ArchiveMessage.objects.get(msgid="u1").message_encrypted == ""
