"""Issue 23, item 3: the console home tells each role what to do today."""

from datetime import timedelta

from django.utils import timezone

from custos.archive.models import Conversation
from custos.customers import activity, services
from custos.ledger.services import append_batch
from tests.alerts.conftest import message_event


def test_salespersons_workbench(company, console, make_customer):
    today = timezone.localdate()
    due = make_customer(company.sales_a, name="到期客户")
    services.update_customer(actor=company.sales_a, customer=due, next_follow_up_on=today)
    birthday = make_customer(
        company.sales_a, name="寿星客户", profile={"birthday": f"1990-{today + timedelta(days=2):%m-%d}"}
    )
    quiet = make_customer(company.sales_a, name="沉默客户")
    quiet.last_contact_at = timezone.now() - timedelta(days=60)
    quiet.save(update_fields=["last_contact_at"])
    make_customer(company.sales_a_peer, name="同事的客户")
    services.update_customer(
        actor=company.sales_a_peer,
        customer=make_customer(company.sales_a_peer, name="同事到期"),
        next_follow_up_on=today,
    )
    append_batch([message_event(company.sales_a, "在吗？想问下新款", role="customer", contact="wm_wait")])
    assert Conversation.objects.filter(employee=company.sales_a).exists()

    page = console(company.sales_a).get("/").content.decode()
    bench = page[page.index('id="workbench"') :]
    assert "到期客户" in bench and "同事到期" not in bench and "同事的客户" not in bench
    assert "寿星客户" in bench[bench.index('id="bench-birthdays"') :]
    assert "沉默客户" in bench[bench.index('id="bench-quiet"') :]
    waiting = bench[bench.index('id="bench-unanswered"') : bench.index('id="bench-birthdays"')]
    assert "/conversations/c/" in waiting and "single:" not in waiting
    assert 'id="watch"' not in page  # a salesperson has no manager's panel
    assert birthday and due


def test_managers_home(company, console, make_customer):
    from custos.handover import services as handover

    append_batch([message_event(company.sales_a, "这单咱们私下交易吧")])
    handover.open_case(
        actor=company.manager_a,
        employee=company.sales_a_peer,
        last_day=timezone.localdate() + timedelta(days=5),
    )
    customer = make_customer(company.sales_a, name="有跟进")
    activity.add_follow_up(actor=company.sales_a, customer=customer, kind="call", content="回访")

    page = console(company.manager_a).get("/").content.decode()
    watch = page[page.index('id="watch"') :]
    assert "/alerts/" in watch[watch.index('id="watch-alerts"') : watch.index('id="watch-departures"')]
    assert (
        company.sales_a_peer.name
        in watch[watch.index('id="watch-departures"') : watch.index('id="watch-idle"')]
    )
    idle = watch[watch.index('id="watch-idle"') :]
    assert company.service_a.name in idle and company.sales_a.name not in idle  # logged one this week
    assert company.sales_b.name not in idle  # another store
    assert 'id="workbench"' not in page
