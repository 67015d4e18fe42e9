"""Background jobs of the core (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.core import partitioning


@db_periodic_task(crontab(minute="17", hour="3"))
def create_partitions_ahead():
    """Daily: this and the next months' partitions of the ledger and archive (PostgreSQL only)."""
    return partitioning.ensure_ahead()
