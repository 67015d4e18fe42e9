"""小客情: the small, daily care staff give their own customers: a birthday, the customer's (or
their spouse's) day, the anniversary of becoming a customer, a holiday; with the company's
greeting templates, filled in for each customer.

Birthdays come from the customer's file (profiles.py: birthday, family.spouse.birthday), matched
on month and day in the database so a desk's whole subtree is one query, not a read of every file.
"""

from dataclasses import dataclass
from datetime import date, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.care import scope
from custos.care.models import GreetingTemplate, Holiday
from custos.core.errors import Forbidden, InvalidInput
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

WRITERS = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)
PLACEHOLDERS = ("{name}", "{holiday}", "{years}")
MAX_ROWS = 1000


@dataclass
class Occasion:
    day: date
    kind: str  # birthday | spouse_birthday | anniversary | holiday
    customer: object | None
    label: str
    years: int | None = None
    text: str = ""


def _days(today: date, n: int) -> list[date]:
    return [today + timedelta(days=i) for i in range(n)]


def _on_days(field: str, days: list[date]) -> Q:
    q = Q()
    for d in days:
        q |= Q(**{f"{field}__endswith": f"-{d:%m-%d}"})
    return q


def _next(day_of_year: date, days: list[date]) -> date | None:
    for d in days:
        if (d.month, d.day) == (day_of_year.month, day_of_year.day):
            return d
    return None


def upcoming(viewer: Employee, *, today: date | None = None, days: int = 7) -> list[Occasion]:
    """Today's and the coming days' occasions of the customers the viewer cares for."""
    today = today or timezone.localdate()
    span = _days(today, max(1, min(days, 31)))
    customers = scope.customers_in_reach(viewer).filter(status="active")
    found: list[Occasion] = []
    born = customers.filter(_on_days("profile__birthday", span))
    for c in born[:MAX_ROWS]:
        d = _next(date.fromisoformat(c.profile["birthday"]), span)
        if d:
            found.append(Occasion(d, "birthday", c, _("Birthday")))
    spouses = customers.filter(_on_days("profile__family__spouse__birthday", span))
    for c in spouses[:MAX_ROWS]:
        d = _next(date.fromisoformat(c.profile["family"]["spouse"]["birthday"]), span)
        if d:
            found.append(Occasion(d, "spouse_birthday", c, _("Spouse's birthday")))
    q = Q()
    for d in span:
        q |= Q(created_at__month=d.month, created_at__day=d.day)
    for c in customers.filter(q).exclude(created_at__year=today.year)[:MAX_ROWS]:
        began = timezone.localdate(c.created_at)
        d = _next(began, span)
        if d and d.year > began.year:
            found.append(Occasion(d, "anniversary", c, _("Customer anniversary"), years=d.year - began.year))
    for h in Holiday.objects.filter(day__in=span):
        found.append(Occasion(h.day, "holiday", None, h.name))
    templates = _templates()
    for o in found:
        o.text = fill(
            templates.get(
                "holiday"
                if o.kind == "holiday"
                else ("anniversary" if o.kind == "anniversary" else "birthday"),
                "",
            ),
            o,
        )
    found.sort(key=lambda o: (o.day, o.kind != "holiday", o.customer.name if o.customer else ""))
    return found


def _templates() -> dict[str, str]:
    chosen: dict[str, str] = {}
    for t in GreetingTemplate.objects.order_by("-id"):
        chosen.setdefault(t.occasion, t.text)
    return chosen


def fill(text: str, occasion: Occasion) -> str:
    name = occasion.customer.name if occasion.customer else _("customers")
    return (
        text.replace("{name}", name)
        .replace("{holiday}", occasion.label if occasion.kind == "holiday" else "")
        .replace("{years}", str(occasion.years or ""))
    )


def add_template(*, actor: Employee, occasion: str, title: str, text: str) -> GreetingTemplate:
    policy.require_writer(actor)
    if actor.role not in WRITERS:
        raise Forbidden(_("Only managers write greeting templates."))
    if occasion not in GreetingTemplate.Occasion.values:
        raise InvalidInput(_("A birthday, an anniversary or a holiday."))
    title, text = (title or "").strip(), (text or "").strip()
    if not title or not text or len(title) > 60 or len(text) > 500:
        raise InvalidInput(_("A title (60 characters at most) and a text (500 at most)."))
    with transaction.atomic():
        row = GreetingTemplate.objects.create(occasion=occasion, title=title, text=text, created_by=actor)
        append_batch(
            [
                Event(
                    kind="care.template_added",
                    payload={"template": row.pk, "occasion": occasion},
                    actor_id=actor.pk,
                    unit_id=actor.unit_id,
                    source="console",
                )
            ]
        )
    return row


def add_holiday(*, actor: Employee, name: str, day: date) -> Holiday:
    policy.require_writer(actor)
    if actor.role not in (Role.EXECUTIVE, Role.ADMIN):
        raise Forbidden(_("Only executives and administrators keep the holiday list."))
    name = (name or "").strip()
    if not name or len(name) > 40:
        raise InvalidInput(_("A holiday's name, 40 characters at most."))
    with transaction.atomic():
        row, _created = Holiday.objects.update_or_create(day=day, defaults={"name": name})
        append_batch(
            [
                Event(
                    kind="care.holiday_set",
                    payload={"day": day.isoformat(), "name": name},
                    actor_id=actor.pk,
                    source="console",
                )
            ]
        )
    return row
