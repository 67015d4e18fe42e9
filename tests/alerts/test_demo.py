"""The alerts demo: disguised violations of every category, deletions, and alerts in every state."""

import pytest

from custos.alerts import demo
from custos.alerts.models import Alert, Hit
from custos.customers import demo as customers_demo
from custos.ledger.models import Entry
from custos.org import demo as org_demo


@pytest.mark.django_db
def test_demo_leaves_alerts_in_every_state_and_every_category():
    org_demo.build(2026)
    customers_demo.build(2026, total=300)
    counts = demo.build(2026)
    assert all(counts[state] >= 1 for state in ("open", "acknowledged", "resolved", "false_positive")), counts
    categories = set(Hit.objects.values_list("category", flat=True))
    assert categories >= {
        "private_deal",
        "contact_diversion",
        "kickback",
        "payment_diversion",
        "poaching",
        "contact_leak",
    }
    rules = set(Alert.objects.values_list("rule", flat=True))
    assert rules >= {"sensitive_words", "contact_leak", "customer_deleted", "mass_deletion", "chat_deleted",
                     "recall_after_hit", "private_group", "money_transfer"}  # fmt: skip
    assert Entry.objects.filter(source="demo-alerts", kind="message.sent").exists()
    assert Entry.objects.filter(kind="alert.false_positive").count() == counts["false_positive"]
    # Alerts show in the console of a store manager of the demo.
    assert Alert.objects.filter(unit__name__endswith="店").exists()
