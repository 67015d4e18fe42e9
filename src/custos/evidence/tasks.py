"""Background jobs of the evidence app (Huey, discovered by huey.contrib.djhuey)."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger(__name__)


@db_task()
def build_package(package_id: int):
    """Build a requested evidence package; progress and failure are written to its row."""
    from custos.evidence import services

    return services.run_package(package_id).status


@db_periodic_task(crontab(hour="3", minute="30"))
def apply_retention():
    """Every night, redact the bodies past their retention period that no legal hold covers."""
    from custos.evidence import services

    results = services.run_retention()
    redacted = sum(r.redacted for r in results)
    if redacted:
        log.info("retention: %s bodies redacted", redacted)
    return redacted


@db_periodic_task(crontab(minute="40"))
def expire_packages():
    """Every hour, delete the package files older than CUSTOS_EVIDENCE_KEEP_DAYS; the records say expired."""
    from custos.evidence import services

    return len(services.expire_packages())
