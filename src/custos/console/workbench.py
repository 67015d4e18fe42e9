"""What each role has to do today, for the console home (issue 23, item 3).

A salesperson's workbench: follow-ups due, birthdays this week, customers going quiet, chats
waiting for an answer, customers new in the pool. A manager's: open alerts, departures being
handed over, staff who logged no follow-up this week. Every list is read through the viewer's
scope and cut short: a home page shows the first few and links to the full list.
"""

from datetime import timedelta

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from custos.alerts import selectors as alerts
from custos.alerts.rules import RULES
from custos.archive import selectors as archive
from custos.customers import selectors as customers
from custos.customers.models import Customer, FollowUp
from custos.handover import selectors as handover
from custos.handover.models import DepartureCase
from custos.org.models import Employee, Role
from custos.org.selectors import employees_visible

SHOWN = 8
QUIET_DAYS = 30
BIRTHDAY_DAYS = 7
POOL_NEW_DAYS = 7
IDLE_DAYS = 7
UNANSWERED_DAYS = 14


def _mine(viewer: Employee):
    return customers.customers_visible(viewer).filter(owner_id=viewer.pk, status=Customer.Status.ACTIVE)


def _birthday_q(today) -> Q:
    q = Q()
    for n in range(BIRTHDAY_DAYS):
        day = today + timedelta(days=n)
        q |= Q(profile__birthday__endswith=f"-{day:%m-%d}")
    return q


def _named(viewer: Employee, conversations: list) -> list:
    from custos.archive.views import name_conversations

    name_conversations(viewer, conversations)
    return conversations


def salesperson(viewer: Employee) -> dict:
    today = timezone.localdate()
    now = timezone.now()
    mine = _mine(viewer).prefetch_related(None)
    due = mine.filter(next_follow_up_on__lte=today).order_by("next_follow_up_on", "pk")
    quiet = mine.filter(last_contact_at__lt=now - timedelta(days=QUIET_DAYS)).order_by(
        "last_contact_at", "pk"
    )
    birthdays = [c for c in mine.filter(_birthday_q(today)).order_by("pk")[:50]]
    for c in birthdays:
        c.birthday = (c.profile or {}).get("birthday", "")
    birthdays.sort(key=lambda c: (c.birthday[5:] < f"{today:%m-%d}", c.birthday[5:]))
    pool = customers.pool_visible(viewer).filter(updated_at__gte=now - timedelta(days=POOL_NEW_DAYS))
    return {
        "due": list(due[:SHOWN]),
        "due_count": due.count(),
        "birthdays": birthdays[:SHOWN],
        "quiet": list(quiet[:SHOWN]),
        "quiet_days": QUIET_DAYS,
        "unanswered": _named(
            viewer, archive.unanswered(viewer, viewer.pk, now - timedelta(days=UNANSWERED_DAYS), SHOWN)
        ),
        "pool": list(pool.prefetch_related(None).order_by("-updated_at", "-pk")[:SHOWN]),
        "today": today,
    }


def manager(viewer: Employee) -> dict:
    now = timezone.now()
    staff = employees_visible(viewer).filter(
        role__in=(Role.SALES, Role.SERVICE), status=Employee.Status.ACTIVE, frozen_at__isnull=True
    )
    logged = FollowUp.objects.filter(
        author_id=OuterRef("pk"), occurred_at__gte=now - timedelta(days=IDLE_DAYS)
    )
    idle = staff.filter(~Exists(logged)).select_related("unit").order_by("unit__path", "name")
    open_alerts = alerts.list_alerts(viewer, alerts.Filters(state="open"))
    cases = handover.list_cases(viewer, status=DepartureCase.Status.OPEN)
    shown = list(open_alerts.select_related("employee")[:SHOWN])
    for a in shown:
        a.rule_label = RULES.get(a.rule, a.rule)
    return {
        "alerts": shown,
        "alerts_count": alerts.open_count(viewer),
        "cases": list(cases[:SHOWN]),
        "cases_count": cases.count(),
        "idle": list(idle[: SHOWN * 2]),
        "idle_count": idle.count(),
        "idle_days": IDLE_DAYS,
    }
