"""A customer's contact with its owner collapsing, measured against that pair's own history.

Once a day: for each (owner, customer) pair, messages a week in the recent weeks against the
weekly average of the weeks before. A pair that used to talk (at least collapse_min_per_week)
and now talks at less than collapse_percent of that is a customer slipping away (客户流失提醒),
whether the owner stopped caring or moved the customer to a private phone.
"""

from datetime import timedelta

from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from custos.alerts import rules, services, thresholds
from custos.alerts.models import Alert
from custos.customers.models import Customer
from custos.ledger.models import Entry
from custos.org.models import Employee


def check(now=None) -> list[Alert]:
    now = now or timezone.now()
    defaults = thresholds.DEFAULTS
    longest = max(defaults["collapse_history_weeks"], 104) + 12
    since = now - timedelta(weeks=longest)
    owners = {
        pk: path
        for pk, path in Employee.objects.exclude(status=Employee.Status.DEPARTED).values_list(
            "pk", "unit__path"
        )
    }
    settings_by_path: dict[str, dict] = {}
    raised = []
    # Per pair and week bucket would need database-specific date functions; counts per pair over
    # the two windows of the unit's settings are enough, so the ledger is read once per unit setting.
    pairs = (
        Entry.objects.filter(rules.message_query(), occurred_at__gte=since, customer_id__isnull=False,
                             actor_id__isnull=False)
        .values_list("actor_id", "customer_id")
        .distinct()
    )  # fmt: skip
    owned = dict(Customer.objects.filter(owner_id__isnull=False).values_list("pk", "owner_id"))
    todo: dict[tuple, list] = {}
    for actor_id, customer_id in pairs:
        if owned.get(customer_id) != actor_id or actor_id not in owners:
            continue
        path = owners[actor_id]
        if path not in settings_by_path:
            settings_by_path[path] = thresholds.values(path)
        s = settings_by_path[path]
        key = (
            s["collapse_recent_weeks"],
            s["collapse_history_weeks"],
            s["collapse_min_per_week"],
            s["collapse_percent"],
        )
        todo.setdefault(key, []).append((actor_id, customer_id))
    for (recent_w, history_w, min_per_week, percent), group in todo.items():
        recent_start = now - timedelta(weeks=recent_w)
        history_start = recent_start - timedelta(weeks=history_w)
        customers = [c for _a, c in group]
        rows = (
            Entry.objects.filter(
                rules.message_query(), customer_id__in=customers, occurred_at__gte=history_start
            )
            .values("actor_id", "customer_id")
            .annotate(
                recent=Count("seq", filter=Q(occurred_at__gte=recent_start)),
                past=Count("seq", filter=Q(occurred_at__lt=recent_start)),
                last=Max("seq"),
            )
        )
        wanted = set(group)
        for row in rows:
            pair = (row["actor_id"], row["customer_id"])
            if pair not in wanted:
                continue
            baseline = row["past"] / history_w
            recent = row["recent"] / recent_w
            if baseline < min_per_week or recent * 100 >= baseline * percent:
                continue
            if Alert.objects.filter(
                rule="contact_collapse", employee_id=pair[0], customer_id=pair[1], raised_at__gte=recent_start
            ).exists():
                continue
            signal = rules.Signal(
                rule="contact_collapse",
                category="relationship",
                severity="medium",
                seqs=[row["last"]],
                at=now,
                employee_id=pair[0],
                unit_id=None,
                customer_id=pair[1],
                detail=f"{baseline:.1f} → {recent:.1f} 次/周",
            )
            signal.unit_id = Employee.objects.filter(pk=pair[0]).values_list("unit_id", flat=True).first()
            with transaction.atomic():
                raised += services.raise_signals([signal])
    return raised
