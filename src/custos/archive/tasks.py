from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.archive import signing


@db_periodic_task(crontab(minute="*/10"))
def prune_nonces():
    """Forget nonces older than the replay window: their timestamps are refused anyway."""
    return signing.prune()


@db_periodic_task(crontab(minute="17", hour="3"))
def prune_uploads():
    """Abandoned resumable uploads (a week untouched) and their sealed part files."""
    from custos.archive import uploads

    return uploads.prune()
