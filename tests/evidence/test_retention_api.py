"""Retention rules and legal holds through the API."""

from custos.ledger.models import Entry


def test_rules_admin_only(chats, api):
    c = chats.company
    admin = api(c.admin)
    response = admin.post("evidence/retention/rules", {"kind_prefix": "message.", "days": 1095})
    assert response.status_code == 200, response.content
    rules = admin.get("evidence/retention/rules").json()
    assert [(r["kind_prefix"], r["days"]) for r in rules] == [("message.", 1095)]
    auditor = api(c.auditor)
    assert len(auditor.get("evidence/retention/rules").json()) == 1
    refused = auditor.post("evidence/retention/rules", {"kind_prefix": "call.", "days": 30})
    assert refused.status_code == 403
    assert api(c.manager_a).get("evidence/retention/rules").status_code == 403
    bad = admin.post("evidence/retention/rules", {"kind_prefix": "retention.", "days": 30})
    assert bad.status_code == 400
    zero = admin.post("evidence/retention/rules", {"kind_prefix": "call.", "days": 0})
    assert zero.status_code == 422
    dry = admin.get("evidence/retention/dry-run").json()
    assert dry[0]["kind_prefix"] == "message." and dry[0]["expired"] == 0
    assert admin.delete("evidence/retention/rules/message.").status_code == 204
    assert admin.delete("evidence/retention/rules/message.").status_code == 404
    assert Entry.objects.filter(kind__startswith="retention.rule_").count() == 2


def test_holds_place_list_release(chats, api):
    c = chats.company
    auditor = api(c.auditor)
    response = auditor.post("evidence/holds", {"reason": "仲裁", "employee_id": c.sales_a.pk, "since": "2020-01-01T00:00:00Z"})
    assert response.status_code == 201, response.content
    hold = response.json()
    assert hold["active"] and hold["employee_id"] == c.sales_a.pk
    assert [h["id"] for h in auditor.get("evidence/holds", active="true").json()] == [hold["id"]]
    assert api(c.manager_a).post("evidence/holds", {"reason": "x", "customer_id": chats.zhang.pk}).status_code == 403
    assert auditor.post("evidence/holds", {"reason": "x"}).status_code == 400
    assert auditor.post("evidence/holds", {"reason": "x", "customer_id": 999999}).status_code == 404
    released = auditor.post(f"evidence/holds/{hold['id']}/release", {"reason": "结案"})
    assert released.status_code == 200 and not released.json()["active"]
    assert auditor.post(f"evidence/holds/{hold['id']}/release", {"reason": "again"}).status_code == 400
    assert auditor.get("evidence/holds", active="true").json() == []
    assert auditor.get("evidence/holds/999999").status_code == 404
