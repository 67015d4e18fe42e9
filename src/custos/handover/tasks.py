"""Background jobs of the handover (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.handover import services
from custos.handover.models import DepartureCase


@db_periodic_task(crontab(minute="*/10"))
def handover_rounds():
    """Open a case for anyone newly marked resigning, depart and freeze whoever's last day has
    come (their devices get a lock command), propose rotations that are due, and re-tick every live checklist from the data."""
    opened = services.open_missing_cases()
    left = services.leave_on_last_day()
    services.propose_due_rotations()
    for case in DepartureCase.objects.exclude(status=DepartureCase.Status.CLOSED):
        services.refresh(case)
    return {"opened": len(opened), "departed": len(left)}
