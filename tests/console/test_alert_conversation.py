"""Issue 23, item 6: a deleted-chat or private-group alert links to the conversation and shows
the messages around it; reading them there is recorded as reading the chat."""

from custos.alerts.models import Alert
from custos.ledger.models import Entry
from custos.ledger.services import append_batch
from tests.alerts.conftest import event, message_event


def test_deleted_chat_alert_shows_the_messages_before_it(company, console, make_customer):
    customer = make_customer(company.sales_a, name="陈宏达")
    conversation = f"single:{company.sales_a.pk}:wm_chen"
    append_batch([
        message_event(company.sales_a, "王姐，新款到了", contact="wm_chen", customer_id=customer.pk),
        message_event(company.sales_a, "好的周六来", role="customer", contact="wm_chen", customer_id=customer.pk),
    ])  # fmt: skip
    append_batch(
        [
            event(
                "chat.deleted_on_device",
                company.sales_a,
                {"conversation": conversation, "contact": "wm_chen", "group": None},
            )
        ]
    )
    alert = Alert.objects.get(rule="chat_deleted")

    page = console(company.manager_a).get(f"/alerts/{alert.pk}/").content.decode()
    around = page[page.index('class="around"') :]
    assert "/conversations/c/" in around and "王姐，新款到了" in around and "好的周六来" in around
    assert Entry.objects.filter(kind="access.conversation_viewed", actor_id=company.manager_a.pk).exists()
    # Another store's manager does not see the alert at all.
    assert console(company.manager_b).get(f"/alerts/{alert.pk}/").status_code == 404


def test_private_group_alert_links_to_the_group_chat(company, console):
    append_batch([
        event("group.created", company.sales_a, {"group": "wr_g1", "name": "VIP群", "has_company_observer": False,
              "members": [{"employee": company.sales_a.pk}, {"contact": "wm_a"}, {"contact": "wm_b"}]}),
    ])  # fmt: skip
    msg = message_event(company.sales_a, "各位好，新款到店", contact="wm_a")
    msg.payload.update({"conversation": "wr_g1", "group": "wr_g1", "contact": None})
    append_batch([msg])
    alert = Alert.objects.get(rule="private_group")
    page = console(company.manager_a).get(f"/alerts/{alert.pk}/").content.decode()
    assert 'class="around"' in page and "各位好，新款到店" in page
