"""Background jobs of customer records (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from custos.customers import imports


@db_task()
def check_import(job_id: int):
    """The dry run of an uploaded sheet; its progress and report go to the ImportJob row."""
    imports.execute_check(job_id)


@db_task()
def run_import(job_id: int):
    """An import queued from the console or the API; its progress goes to the ImportJob row."""
    imports.execute(job_id)


@db_periodic_task(crontab(minute="17"))
def forget_stale_uploads():
    """Hourly: uploads left unimported for a day lose their sheet, which is full of phone numbers."""
    return imports.forget_stale_uploads()
