"""Behaviour rules over ledger entries, with thresholds per unit and one alert per incident."""

from datetime import timedelta

from django.utils import timezone

from custos.alerts import collapse, services
from custos.alerts.models import Alert
from custos.customers.models import Customer
from custos.org import services as org_services
from custos.org.models import Employee

from .conftest import event, message_event


def test_recall_after_a_hit(company, send):
    [hit] = send(message_event(company.sales_a, "这单咱们私下交易", source_id="m-1"))
    [clean] = send(message_event(company.sales_a, "好的", source_id="m-2"))
    send(event("message.recalled", company.sales_a, {"message": "m-2", "conversation": "c"}))
    assert not Alert.objects.filter(rule="recall_after_hit").exists()
    [recall] = send(event("message.recalled", company.sales_a, {"message": "m-1", "conversation": "c"}))
    alert = Alert.objects.get(rule="recall_after_hit")
    assert alert.evidence == [hit.seq, recall.seq] and alert.severity == "high"
    assert alert.category == "private_deal"


def test_chat_deleted_and_group_without_observer(company, send):
    send(
        event(
            "chat.deleted_on_device",
            company.sales_a,
            {"conversation": "c1", "contact": "wm_1", "group": None},
        )
    )
    assert Alert.objects.filter(rule="chat_deleted").count() == 1
    members = [{"contact": "wm_1"}, {"employee": company.sales_a.pk}]
    send(event("group.created", company.sales_a,
               {"group": "g1", "name": "老客户群", "members": members, "has_company_observer": True}))  # fmt: skip
    assert not Alert.objects.filter(rule="private_group").exists()
    send(event("group.created", company.sales_a,
               {"group": "g2", "name": "私人群", "members": members, "has_company_observer": False}))  # fmt: skip
    alert = Alert.objects.get(rule="private_group")
    assert alert.contact == "g2"


def test_red_packets_and_transfers_with_a_threshold(company, send):
    send(message_event(company.sales_a, None, msgtype="redpacket", amount=8800))
    assert Alert.objects.filter(rule="money_transfer").count() == 1
    services.set_threshold(actor=company.admin, unit=company.south, key="money_min_fen", value=10000)
    send(message_event(company.sales_a, None, msgtype="transfer", amount=5000, contact="wm_2"))
    send(message_event(company.sales_b, None, msgtype="transfer", amount=5000, contact="wm_2"))
    assert Alert.objects.filter(rule="money_transfer").count() == 2  # 华东 keeps the default 0
    assert Alert.objects.filter(rule="money_transfer", employee=company.sales_b).exists()


def test_one_incident_is_one_alert(company, send):
    for text in ["回扣照老规矩给你", "好处费少不了你的"]:
        send(message_event(company.sales_a, text, customer_id=None, contact="wm_x"))
    alert = Alert.objects.get(rule="sensitive_words")
    assert alert.occurrences == 2 and len(alert.evidence) == 2
    services.resolve(actor=company.manager_a, alert=alert, reason="谈过了")
    send(message_event(company.sales_a, "回扣还是老规矩", contact="wm_x"))
    assert Alert.objects.filter(rule="sensitive_words").count() == 2  # a closed alert takes no more evidence


def test_bulk_reveal_and_export(company, send):
    send(
        event(
            "risk.bulk_reveal",
            company.manager_a,
            {"employee": company.manager_a.pk, "limit": 20, "count": 20},
        )
    )
    send(event("risk.bulk_export", company.manager_a, {"rows": 900}))
    alert = Alert.objects.get(rule="bulk_access")
    assert alert.severity == "high" and len(alert.evidence) == 2
    services.set_threshold(actor=company.admin, unit=company.hq, key="reveals_count", value=3)
    for i in range(3):
        send(
            event(
                "access.revealed",
                company.sales_b,
                {"contact": i, "kind": "phone", "masked": "138****0000", "reason": "x"},
            )
        )
    assert Alert.objects.get(rule="bulk_access", employee=company.sales_b).severity == "medium"


def test_resigning_employee_contacting_many_customers(company, send):
    org_services_status(company.sales_a, company.admin)
    services.set_threshold(actor=company.admin, unit=company.store_a, key="resigning_contacts", value=4)
    for i in range(3):
        send(message_event(company.sales_a, "您好，最近怎么样", contact=f"wm_{i}"))
    assert not Alert.objects.filter(rule="resigning_outreach").exists()
    send(message_event(company.sales_a, "您好，最近怎么样", contact="wm_3"))
    send(message_event(company.sales_a, "您好", contact="wm_4"))
    alert = Alert.objects.get(rule="resigning_outreach")
    assert alert.employee == company.sales_a and alert.severity == "high" and alert.occurrences == 2
    # An active colleague writing to as many is no signal.
    for i in range(6):
        send(message_event(company.sales_a_peer, "您好", contact=f"wm_{i}"))
    assert Alert.objects.filter(rule="resigning_outreach").count() == 1


def org_services_status(employee, actor):
    last_day = timezone.localdate() + timedelta(days=14)
    org_services.set_status(
        actor=actor, employee=employee, status=Employee.Status.RESIGNING, last_day=last_day
    )


def test_contact_frequency_collapse_against_the_pairs_own_baseline(company, send):
    now = timezone.now()
    steady = Customer.objects.create(name="老王", owner=company.sales_a, unit=company.store_a)
    dropped = Customer.objects.create(name="老李", owner=company.sales_a, unit=company.store_a)
    rare = Customer.objects.create(name="老张", owner=company.sales_a, unit=company.store_a)
    events = []
    for week in range(14):
        at = now - timedelta(weeks=week, hours=1)
        for n in range(5):
            events.append(
                message_event(
                    company.sales_a, "在吗", customer_id=steady.pk, occurred_at=at - timedelta(minutes=n)
                )
            )
            if week >= 2:
                events.append(
                    message_event(
                        company.sales_a, "在吗", customer_id=dropped.pk, occurred_at=at - timedelta(minutes=n)
                    )
                )
        if week in (3, 9):
            events.append(message_event(company.sales_a, "在吗", customer_id=rare.pk, occurred_at=at))
    send(*events)
    raised = collapse.check(now=now)
    assert [(a.customer_id, a.rule) for a in raised] == [(dropped.pk, "contact_collapse")]
    assert collapse.check(now=now) == []  # once per collapse, not every day
