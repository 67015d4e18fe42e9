"""Background jobs of the WeCom connector (Huey, discovered by huey.contrib.djhuey)."""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from custos.core.errors import Conflict
from custos.wecom import messages, services, sync, transfers

log = logging.getLogger(__name__)


@db_task()
def handle_callback(callback_id: int):
    return bool(services.handle_callback(callback_id))


@db_periodic_task(crontab(minute="*/10"))
def retry_callbacks():
    """Callbacks that waited for a member or met a WeCom error: again, until they go through."""
    return services.retry_waiting()


@db_periodic_task(crontab(hour="3", minute="10"))
def prune_callbacks():
    return services.prune_callbacks()


@db_task()
def run_sync(run_id: int):
    with lock_task(f"wecom-sync-{run_id}"):
        return sync.run(run_id).status


@db_periodic_task(crontab(hour="2", minute="40"))
def nightly_sync():
    """Directory first (new staff, departures), then customers: what callbacks missed is caught up."""
    if not services.connection().enabled:
        return None
    for kind in ("directory", "contacts"):
        try:
            row = sync.start(kind)
        except Conflict:
            log.info("wecom: nightly %s sync skipped, one is running", kind)
            continue
        sync.run(row.pk)
    return True


@db_task()
def sync_tags_task():
    if services.connection().enabled:
        return sync.sync_tags()
    return 0


@db_task()
def submit_transfers(plan_id: int | None = None):
    return transfers.submit(plan_id)


@db_periodic_task(crontab(minute="*/15"))
def poll_transfers():
    """Pending transfers whose pause is over go out; waiting ones are checked against WeCom."""
    transfers.submit()
    return transfers.poll()


@db_task()
def send_app_message(message_id: int):
    messages.send(message_id)


@db_periodic_task(crontab(minute="*"))
def send_due_app_messages():
    return messages.send_due()


def archive_notice():
    """WeCom says its chat archive has new messages: the archive pull runs when it is set up."""
    from custos.wecom import archive_pull

    return archive_pull.pull_soon()


# -- The chat archive (会话内容存档): pull, files, held records -------------------------------------------
@db_task()
def archive_pull_now():
    """A pull now (the msgaudit_notify callback); the pull's own lease makes a second one a no-op."""
    from custos.wecom import archive_pull

    return archive_pull.pull().status


@db_periodic_task(crontab(minute="*"))
def archive_pull_every_minute():
    from custos.wecom import archive_keys, archive_pull

    if not archive_keys.settings_row().enabled:
        return None
    return archive_pull.pull().status


@db_task()
def archive_fetch_media(media_id: int):
    from custos.wecom import archive_media

    return archive_media.fetch(media_id)


@db_task()
def archive_fetch_media_batch(media_ids: list[int]):
    """A page's files in one task: one queue write per page instead of one per file."""
    from custos.wecom import archive_media

    return [archive_media.fetch(media_id) for media_id in media_ids]


@db_periodic_task(crontab(minute="*"))
def archive_fetch_due_media():
    """Files whose retry time has come, and any a lost task left waiting."""
    from custos.wecom import archive_keys, archive_media

    if not archive_keys.settings_row().enabled:
        return 0
    return archive_media.fetch_due()


@db_task()
def archive_release_held(version: int | None = None):
    """A private key was added: the records held under its version go in."""
    from custos.wecom import archive_keys

    return archive_keys.release_held(version)
