"""Issue 23, item 2: words, not codes. The console reads ledger kinds, payload fields, amounts and
people in the viewer's language, with names linked; the codes stay in the ledger."""

from custos.alerts import services as alert_services
from custos.console import words
from custos.ledger.services import append


def test_every_kind_in_the_docs_has_a_label():
    import pathlib
    import re

    docs = pathlib.Path(__file__).resolve().parents[2] / "docs" / "events.md"
    kinds = set(
        re.findall(
            r"`((?:access|alert|auth|call|chat|contact|customer|group|handover|message|org|pool|risk|retention)\.[a-z_]+)`",
            docs.read_text(),
        )
    )
    assert kinds and not sorted(k for k in kinds if k not in words.KINDS)


def test_ledger_shows_labelled_fields_and_names(company, console, make_customer):
    customer = make_customer(company.sales_a, name="陈宏达")
    append(
        "customer.owner_changed",
        {"change": "transfer", "from": company.sales_a.pk, "to": company.sales_a_peer.pk, "reason": "调店"},
        actor_id=company.manager_a.pk,
        unit_id=company.store_a.pk,
        customer_id=customer.pk,
        source="test",
    )
    body = console(company.manager_a).get("/ledger/").content.decode()
    assert "变更负责人" in body and "customer.owner_changed</td>" not in body
    assert f'href="/customers/{customer.pk}/">陈宏达</a>' in body
    assert f'href="/staff/{company.sales_a_peer.pk}/">{company.sales_a_peer.name}</a>' in body
    assert "原负责人" in body and "转移" in body
    assert '{"change"' not in body and "&quot;change&quot;" not in body  # no raw JSON in the list
    # Filtering by a customer's name, not a number.
    assert "陈宏达" in console(company.manager_a).get("/ledger/", {"customer": "宏达"}).content.decode()
    assert (
        "陈宏达</a>"
        not in console(company.manager_a).get("/ledger/", {"customer": "无此人"}).content.decode()
    )


def test_a_customer_outside_scope_is_not_named(company, console, make_customer):
    other = make_customer(company.sales_b, name="徐汇的客户")
    append("customer.archived", {"reason": "x", "customer": other.pk}, actor_id=company.manager_b.pk,
           unit_id=company.store_b.pk, source="test")  # fmt: skip
    names = words.Names(company.manager_a, [{"customer": other.pk}], customer_ids={other.pk})
    assert "徐汇的客户" not in names.customer(other.pk)["text"]


def test_alert_settings_in_yuan_without_codes(company, console):
    client = console(company.admin)
    page = client.get("/alerts/settings/", {"unit": company.hq.pk}).content.decode()
    assert (
        "money_min_fen</code>" not in page
        and "CUSTOS_WEBHOOK" not in page
        and "（元）" in page
        or "(元)" in page
    )
    client.post(f"/alerts/settings/?unit={company.hq.pk}",
                {"what": "threshold", "unit": company.hq.pk, "key": "money_min_fen", "value": "200.5"})  # fmt: skip
    from custos.alerts import thresholds

    assert thresholds.values(company.hq.path)["money_min_fen"] == 20050  # stored in 分
    assert ">200.50<" in client.get("/alerts/settings/", {"unit": company.hq.pk}).content.decode()
    assert alert_services  # the settings page writes through the alerts' services


def test_hit_rules_and_amounts_in_words():
    assert words.hit_rule("term:别走公司") == "“别走公司”"
    assert words.yuan(12345) == "123.45" and words.yuan(20000) == "200"
