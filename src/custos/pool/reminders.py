"""Reminders that leave Custos after a recycle run.

The console and the API list an owner's notices (selectors.notices_for); people do not open
them every day, so each run also pushes one digest per pool to the robots of the pool's unit and
the units above it (WeCom group robot, DingTalk: custos.alerts.services.notify), and sends
`reminders_sent` so the WeCom connector can tell each owner in WeCom itself. A digest carries
names and counts, never a customer's contact details.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from custos.alerts import services as alert_services
from custos.pool.models import Pool, RecycleNotice, RecycleRun
from custos.pool.signals import reminders_sent

NAMES_SHOWN = 5


def pool_link() -> str:
    return f"{getattr(settings, 'CUSTOS_BASE_URL', '').rstrip('/')}/pool/#notices"


@dataclass(frozen=True)
class Reminder:
    customer_id: int
    customer: str
    owner_id: int
    owner: str
    pool_id: int
    due_on: date


def _digest(pool: Pool, reminders: list[Reminder]) -> tuple[str, str]:
    by_owner: dict[int, list[Reminder]] = defaultdict(list)
    for r in reminders:
        by_owner[r.owner_id].append(r)
    title = ngettext(
        "%(pool)s: %(n)s customer goes back to the pool soon",
        "%(pool)s: %(n)s customers go back to the pool soon",
        len(reminders),
    ) % {"pool": pool.name, "n": len(reminders)}
    lines = []
    for mine in sorted(by_owner.values(), key=lambda rows: (-len(rows), rows[0].owner)):
        names = "、".join(r.customer for r in mine[:NAMES_SHOWN]) + ("…" if len(mine) > NAMES_SHOWN else "")
        lines.append(
            "> "
            + _("%(owner)s: %(n)s (%(names)s), first on %(due)s")
            % {"owner": mine[0].owner, "n": len(mine), "names": names, "due": f"{min(r.due_on for r in mine):%m-%d}"}
        )
    lines.append(_("A follow-up before the date keeps the customer."))
    return title, "\n".join(lines)


def after_run(run: RecycleRun, now: datetime) -> int:
    """Push this run's reminders; returns how many digests were queued. Called inside the
    transaction that closes the run, so a rollback sends nothing."""
    rows = (
        RecycleNotice.objects.filter(created_at__gte=run.started_at, created_at__lte=now)
        .order_by("due_on", "id")
        .values_list("customer_id", "customer__name", "owner_id", "owner__name", "rule__pool_id", "due_on")
    )
    reminders = [Reminder(*row) for row in rows]
    if not reminders:
        return 0
    by_pool: dict[int, list[Reminder]] = defaultdict(list)
    for r in reminders:
        by_pool[r.pool_id].append(r)
    pools = Pool.objects.in_bulk(list(by_pool))
    with translation.override(settings.LANGUAGE_CODE):
        for pool_id, mine in by_pool.items():
            pool = pools[pool_id]
            title, text = _digest(pool, mine)
            alert_services.notify(
                unit_id=pool.unit_id, title=title, text=text, link=pool_link(), event="pool.reminders"
            )
    reminders_sent.send(sender=RecycleRun, run=run, reminders=reminders)
    return len(by_pool)
