"""Retention rules redact expired bodies (the tree still verifies) except where a legal hold covers them."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from custos.evidence import services
from custos.evidence.models import RetentionRule
from custos.ledger import heads, projections
from custos.ledger.models import Entry
from custos.ledger.services import append_batch
from custos.ledger.verify import verify

from .conftest import message

OLD = timezone.now() - timedelta(days=4 * 365)


@pytest.fixture
def old_chats(chats):
    """Besides the fixture's chats (200 days old), four-year-old messages of 张三 and 王五."""
    c = chats.company
    chats.old = [
        a.entry
        for a in append_batch(
            [
                message(c.sales_a, chats.zhang, "四年前的消息", when=OLD),
                message(c.sales_b, chats.wang, "王总四年前", when=OLD, contact="wx_wang"),
                message(c.sales_a_peer, chats.li, "李总四年前", when=OLD, contact="wx_li"),
            ]
        )
    ]
    heads.sign_head()
    return chats


def payload(seq):
    return Entry.objects.get(seq=seq).payload


def test_no_rule_keeps_everything(old_chats):
    assert services.run_retention() == []
    assert all(payload(e.seq) for e in old_chats.old)


def test_expired_bodies_redacted_and_the_tree_still_verifies(old_chats):
    c = old_chats.company
    services.set_rule(c.admin, "message.", 3 * 365)
    [result] = services.run_retention()
    assert result.redacted == 3 and result.held == 0
    assert all(payload(e.seq) is None for e in old_chats.old)
    assert all(payload(e.seq) is not None for e in old_chats.entries)  # 200 days old: within the period
    redaction = Entry.objects.get(seq=result.entries[0])
    assert redaction.kind == "retention.redacted"
    assert json.loads(redaction.payload)["seqs"] == [e.seq for e in old_chats.old]
    assert Entry.objects.get(seq=old_chats.old[0].seq).payload_hash == old_chats.old[0].payload_hash
    heads.sign_head()
    report = verify()
    assert report.size == Entry.objects.count()
    # A second run finds nothing left to do.
    [again] = services.run_retention()
    assert again.redacted == 0 and again.entries == []


def test_legal_hold_keeps_covered_bodies_until_released(old_chats):
    c = old_chats.company
    services.set_rule(c.admin, "message.", 365)
    hold = services.place_hold(c.auditor, services.HoldInput(reason="劳动仲裁 2026-17", customer_id=old_chats.zhang.pk))
    unit_hold = services.place_hold(c.admin, services.HoldInput(reason="徐汇店审计", unit_id=c.east.pk))
    placed = Entry.objects.filter(kind="legal_hold.placed").order_by("seq")
    assert [json.loads(e.payload)["hold"] for e in placed] == [hold.pk, unit_hold.pk]

    dry = services.run_retention(dry_run=True)
    assert dry[0].redacted == 0 and not Entry.objects.filter(kind="retention.redacted").exists()
    [result] = services.run_retention()
    # 李四's old message goes; 张三's (customer hold) and 王五's (unit hold) stay.
    assert payload(old_chats.old[0].seq) is not None
    assert payload(old_chats.old[1].seq) is not None
    assert payload(old_chats.old[2].seq) is None
    assert result.held > 0

    services.release_hold(c.auditor, hold.pk, "案件结束")
    released = Entry.objects.get(kind="legal_hold.released")
    assert json.loads(released.payload)["hold"] == hold.pk and released.actor_id == c.auditor.pk
    services.run_retention()
    assert payload(old_chats.old[0].seq) is None
    assert payload(old_chats.old[1].seq) is not None  # the unit hold still stands
    verify()


def test_hold_by_time_range_and_employee(old_chats):
    c = old_chats.company
    services.set_rule(c.admin, "message.", 365)
    services.place_hold(
        c.admin,
        services.HoldInput(
            reason="period", employee_id=c.sales_b.pk, since=OLD - timedelta(days=1), until=OLD + timedelta(days=1)
        ),
    )
    services.run_retention()
    assert payload(old_chats.old[1].seq) is not None
    assert payload(old_chats.old[0].seq) is None


def test_longer_prefix_wins(old_chats):
    c = old_chats.company
    services.set_rule(c.admin, "message.", 365)
    services.set_rule(c.admin, "message.sent", 10 * 365)
    services.run_retention()
    assert all(payload(e.seq) is not None for e in old_chats.old)  # all of them are message.sent


def test_rules_are_admins_and_ledger_entries(old_chats):
    c = old_chats.company
    from custos.core.errors import Forbidden, InvalidInput

    with pytest.raises(Forbidden):
        services.set_rule(c.auditor, "message.", 30)
    for bad in ("retention.", "r", "legal_hold.placed", "evidence.", "keys.rotated", "Message", ""):
        with pytest.raises(InvalidInput):
            services.set_rule(c.admin, bad, 30)
    with pytest.raises(InvalidInput):
        services.set_rule(c.admin, "message.", 0)
    services.set_rule(c.admin, "call.", 30)
    services.set_rule(c.admin, "call.", 60)
    entries = [json.loads(e.payload) for e in Entry.objects.filter(kind="retention.rule_set").order_by("seq")]
    assert entries == [
        {"kind_prefix": "call.", "days": 30, "previous_days": None},
        {"kind_prefix": "call.", "days": 60, "previous_days": 30},
    ]
    services.remove_rule(c.admin, "call.")
    assert not RetentionRule.objects.exists()
    assert Entry.objects.filter(kind="retention.rule_removed").count() == 1


def test_holds_by_admins_and_auditors_only(old_chats):
    from custos.core.errors import Forbidden, InvalidInput

    c = old_chats.company
    for who in (c.manager_a, c.executive, c.sales_a):
        with pytest.raises(Forbidden):
            services.place_hold(who, services.HoldInput(reason="x", customer_id=old_chats.zhang.pk))
    with pytest.raises(InvalidInput):
        services.place_hold(c.admin, services.HoldInput(reason="nothing chosen"))
    with pytest.raises(InvalidInput):
        services.place_hold(c.admin, services.HoldInput(reason="  ", customer_id=old_chats.zhang.pk))
    hold = services.place_hold(c.admin, services.HoldInput(reason="ok", customer_id=old_chats.zhang.pk))
    services.release_hold(c.admin, hold.pk, "done")
    with pytest.raises(InvalidInput):
        services.release_hold(c.admin, hold.pk, "again")


def test_projections_are_told_to_clear_their_copies(old_chats):
    c = old_chats.company
    cleared = []
    projections.on_redacted("test-copies", cleared.extend)
    try:
        services.set_rule(c.admin, "message.", 3 * 365)
        services.run_retention()
    finally:
        projections.unregister_redacted("test-copies")
    assert sorted(cleared) == sorted(e.seq for e in old_chats.old)


def test_command_dry_run_and_run(old_chats, capsys):
    services.set_rule(old_chats.company.admin, "message.", 3 * 365)
    call_command("retention", "run", "--dry-run")
    assert "3 expired, 0 under legal hold, would redact 3" in capsys.readouterr().out
    assert all(payload(e.seq) for e in old_chats.old)
    call_command("retention", "run")
    assert "redacted 3" in capsys.readouterr().out
    assert all(payload(e.seq) is None for e in old_chats.old)


def test_periodic_task_applies_rules(old_chats):
    from custos.evidence.tasks import apply_retention

    services.set_rule(old_chats.company.admin, "message.", 3 * 365)
    apply_retention.call_local()
    assert all(payload(e.seq) is None for e in old_chats.old)
