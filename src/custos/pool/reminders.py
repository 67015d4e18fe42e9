"""Reminders that leave Custos after a recycle run.

The console and the API list an owner's notices (selectors.notices_for); people do not open
them every day, so each run also pushes one digest per pool to the robots of the pool's unit and
the units above it (WeCom group robot, DingTalk: custos.alerts.services.notify), and sends
`reminders_sent` so the WeCom connector can tell each owner in WeCom itself. A digest carries
names and counts, never a customer's contact details.
"""

from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from custos.alerts import services as alert_services
from custos.pool.models import RecycleNotice, RecycleRun
from custos.pool.signals import reminders_sent

NAMES_SHOWN = 5


def pool_link() -> str:
    return f"{getattr(settings, 'CUSTOS_BASE_URL', '').rstrip('/')}/pool/#notices"


def _digest(pool, notices: list[RecycleNotice]) -> tuple[str, str]:
    by_owner: dict[int, list[RecycleNotice]] = defaultdict(list)
    for n in notices:
        by_owner[n.owner_id].append(n)
    title = ngettext(
        "%(pool)s: %(n)s customer goes back to the pool soon",
        "%(pool)s: %(n)s customers go back to the pool soon",
        len(notices),
    ) % {"pool": pool.name, "n": len(notices)}
    lines = []
    for mine in sorted(by_owner.values(), key=lambda rows: (-len(rows), rows[0].owner.name)):
        names = "、".join(n.customer.name for n in mine[:NAMES_SHOWN]) + ("…" if len(mine) > NAMES_SHOWN else "")
        lines.append(
            "> "
            + _("%(owner)s: %(n)s (%(names)s), first on %(due)s")
            % {"owner": mine[0].owner.name, "n": len(mine), "names": names, "due": f"{min(n.due_on for n in mine):%m-%d}"}
        )
    lines.append(_("A follow-up before the date keeps the customer."))
    return title, "\n".join(lines)


def after_run(run: RecycleRun, now: datetime) -> int:
    """Push this run's reminders; returns how many digests were queued. Called inside the
    transaction that closes the run, so a rollback sends nothing."""
    notices = list(
        RecycleNotice.objects.filter(created_at__gte=run.started_at, created_at__lte=now)
        .select_related("customer", "owner", "rule__pool__unit")
        .order_by("due_on", "id")
    )
    if not notices:
        return 0
    by_pool: dict[int, list[RecycleNotice]] = defaultdict(list)
    for n in notices:
        by_pool[n.rule.pool_id].append(n)
    with translation.override(settings.LANGUAGE_CODE):
        for rows in by_pool.values():
            pool = rows[0].rule.pool
            title, text = _digest(pool, rows)
            alert_services.notify(
                unit_id=pool.unit_id, title=title, text=text, link=pool_link(), event="pool.reminders"
            )
    reminders_sent.send(sender=RecycleRun, run=run, notices=notices)
    return len(by_pool)
