"""Care's nightly jobs."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.care import key_accounts, loyalty, services


@db_periodic_task(crontab(hour="3", minute="10"))
def generate_due_tasks():
    """Return visits and call-backs due within the week; running twice makes nothing twice."""
    return services.generate_due_tasks()


@db_periodic_task(crontab(hour="7", minute="0"))
def remind_key_account_visits():
    return key_accounts.send_reminders()


@db_periodic_task(crontab(hour="2", minute="50"))
def loyalty_nightly():
    """Points for the day's purchases, levels refreshed, lots past their last day expired."""
    return {"earned": loyalty.earn_for_purchases(), "expired": loyalty.expire()}
