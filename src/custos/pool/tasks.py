"""Background jobs of the pool (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from custos.pool import recycle


@db_periodic_task(crontab(hour="2", minute="30"))
def nightly_recycle():
    """Remind owners, then move customers nobody serves back to their pool. At night: the
    batches lock customers briefly, and staff are not working on them then."""
    report = recycle.run()
    return {"run": report.run, "moved": len(report.moved), "reminded": report.reminded}


@db_task()
def recycle_now():
    """The same on demand (the console's "run now"); resumes an unfinished run."""
    report = recycle.run()
    return {"run": report.run, "moved": len(report.moved), "reminded": report.reminded}
