"""The devices app's switches, each a Django setting with a default a company can override."""

from django.conf import settings


def offline_minutes() -> int:
    """A work phone silent this long raises the offline alert (a lost or switched-off phone)."""
    return int(getattr(settings, "CUSTOS_DEVICE_OFFLINE_MINUTES", 12 * 60))


def heartbeat_seconds() -> int:
    """How often the agent is asked to report (the answer to every heartbeat repeats it)."""
    return int(getattr(settings, "CUSTOS_DEVICE_HEARTBEAT_SECONDS", 300))


def command_timeout_seconds() -> int:
    """A delivered command unanswered this long is delivered again."""
    return int(getattr(settings, "CUSTOS_DEVICE_COMMAND_TIMEOUT_SECONDS", 600))


def command_attempts() -> int:
    """Deliveries of one command before it is given up as timed out."""
    return int(getattr(settings, "CUSTOS_DEVICE_COMMAND_ATTEMPTS", 3))


def enrolment_hours() -> int:
    """How long an enrolment code stays usable."""
    return int(getattr(settings, "CUSTOS_DEVICE_ENROLMENT_HOURS", 72))


def policy_grace_minutes() -> int:
    """A phone has this long after a policy version is published to apply it before it counts
    as non-compliant (it applies it on its next heartbeat)."""
    return int(getattr(settings, "CUSTOS_DEVICE_POLICY_GRACE_MINUTES", 60))
