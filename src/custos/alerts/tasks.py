"""Background jobs of the alerts app (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from custos.alerts import collapse, delivery


@db_task()
def send_delivery(delivery_id: int):
    return delivery.attempt(delivery_id)


@db_periodic_task(crontab(minute="*"))
def send_due_deliveries():
    """Every minute: whatever is due, including retries of receivers that were down."""
    return delivery.send_due()


@db_periodic_task(crontab(hour="6", minute="20"))
def check_contact_collapse():
    """Daily: pairs of owner and customer whose contact fell far below their own baseline."""
    return len(collapse.check())
