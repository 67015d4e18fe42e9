"""Background jobs of the work phones (Huey, discovered by huey.contrib.djhuey)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from custos.devices import commands, services


@db_periodic_task(crontab(minute="*/5"))
def alert_silent_phones():
    """Phones silent longer than CUSTOS_DEVICE_OFFLINE_MINUTES: one alert per silence."""
    return {"alerted": services.alert_silent()}


@db_periodic_task(crontab(minute="*"))
def sweep_commands():
    """Delivered commands unanswered past the timeout: delivered again, or timed out."""
    return commands.sweep()
