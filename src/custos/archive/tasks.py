from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.archive import signing


@db_periodic_task(crontab(minute="*/10"))
def prune_nonces():
    """Forget nonces older than the replay window: their timestamps are refused anyway."""
    return signing.prune()
