"""Background jobs of insights (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.insights import report, rollup


@db_periodic_task(crontab(hour="3", minute="30"))
def nightly_rollup():
    """Yesterday is complete by now: rebuild today's roll-up (after the pool's 02:30 recycle run)."""
    built = rollup.build()
    return {"day": str(built.day), "customers": built.customers, "seconds": built.seconds}


@db_periodic_task(crontab(day_of_week="1", hour="8", minute="0"))
def weekly_report():
    """Monday 08:00: the figures of the night's roll-up, to every unit's webhooks."""
    return {"units": report.push_weekly()}
