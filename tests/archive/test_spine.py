"""One message from a work phone through every app: archive, detection, alerts, evidence, retention."""

from custos.archive import search_keys
from custos.archive.models import Message
from custos.customers import services as customers
from custos.evidence import offline
from custos.evidence import services as evidence
from custos.evidence.selectors import Selection
from custos.ledger import services as ledger
from custos.ledger.verify import verify


def _filters(m: Message) -> list[str]:
    """The keys of a message's filters (PostgreSQL keeps them in search_keys; SQLite has none)."""
    return search_keys.filter_keys(m.kind, m.msgtype, m.employee_id, m.customer_id)


def test_a_disguised_message_with_a_photo_is_archived_alerted_packaged_and_redacted(company, device, ev, api, tmp_path):
    zhang = customers.create_customer(
        actor=company.sales_a, name="张三", owner=company.sales_a,
        contacts_in=[customers.NewContact("wechat", "wxid_zhang3")],
    )  # fmt: skip
    phone = device(company.sales_a)
    photo = b"\x89PNG contract photo " * 40
    sha = phone.upload(photo)
    attachment = {"sha256": sha, "name": "报价单.png", "size": len(photo), "mime": "image/png"}
    sent = phone.send(
        ev.msg("m1", text="张总，加我薇 信，咱们私下交易更便宜", contact="wxid_zhang3"),
        ev.msg("m2", None, msgtype="image", contact="wxid_zhang3", attachment=attachment),
    ).json()
    assert sent["accepted"] == 2, sent

    # archived, matched to the customer through the blind index of the WeChat id
    m1 = Message.objects.get(source_id="m1")
    assert m1.customer_id == zhang.pk and "私下交易" in m1.text

    # detected inside the append: the store's manager sees the alert, the other store's does not
    alerts = api(company.manager_a).get("alerts").json()["items"]
    categories = {a["category"] for a in alerts if a["customer_id"] == zhang.pk and a["employee_id"] == company.sales_a.pk}
    assert {"private_deal", "contact_diversion"} <= categories, alerts
    assert m1.entry_seq in {seq for a in alerts for seq in a["evidence"]}
    assert api(company.manager_b).get("alerts").json()["items"] == []

    # an evidence package of the customer carries the photo from the archive's store and verifies offline
    built = evidence.build_now(Selection(customer_id=zhang.pk), actor=company.auditor)
    report = offline.verify_package(built.path)
    assert report.ok, report.problems
    assert report.attachments == 1 and report.attachments_missing == 0

    # retention takes the body from the ledger and from the archive's copy; the tree still verifies
    ledger.redact([m1.entry_seq], reason="保留期满")
    m1.refresh_from_db()
    assert m1.text == "" and set(m1.search_keys) <= set(_filters(m1))  # no word's key is left
    assert verify().size > m1.entry_seq
