"""Two managers commit plans for the same customers at the same moment, on PostgreSQL."""

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from custos.core.errors import Conflict
from custos.customers.models import Customer
from custos.handover import services
from custos.handover.models import Plan
from custos.ledger.models import Entry
from custos.ledger.verify import verify


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_commits_one_wins_the_other_gets_a_conflict(company, make_customer):
    customers = [make_customer(company.sales_a, name=f"客户{n}") for n in range(30)]
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=timezone.localdate() + timedelta(days=3))
    # The store manager and the region manager each preview their own plan for the same customers.
    mine = services.preview(actor=company.manager_a, kind="handover", case=case, strategy="round_robin", receiver_ids=[company.sales_a_peer.pk])
    theirs = services.preview(actor=company.region_manager, kind="handover", case=case, strategy="round_robin", receiver_ids=[company.service_a.pk])
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def run(name, actor, plan):
        try:
            barrier.wait()
            outcomes[name] = services.commit(actor=actor, plan=plan)
        except Conflict as exc:
            outcomes[name] = exc
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes[name] = exc
        finally:
            connection.close()

    threads = [
        threading.Thread(target=run, args=("store", company.manager_a, mine)),
        threading.Thread(target=run, args=("region", company.region_manager, theirs)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    won = [k for k, v in outcomes.items() if isinstance(v, Plan)]
    lost = [k for k, v in outcomes.items() if isinstance(v, Conflict)]
    assert len(won) == 1 and len(lost) == 1, outcomes
    assert outcomes[lost[0]].code == "stale_plan"
    winner = company.sales_a_peer if won == ["store"] else company.service_a
    # everything moved to the winner's receiver; nothing of the loser's plan happened
    assert set(Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("owner_id", flat=True)) == {winner.pk}
    assert Entry.objects.filter(kind="customer.owner_changed").count() == len(customers)
    assert Entry.objects.filter(kind="handover.plan_committed").count() == 1
    loser_plan = theirs if won == ["store"] else mine
    loser_plan.refresh_from_db()
    assert loser_plan.status == Plan.Status.DRAFT
    assert verify().size == Entry.objects.count()
