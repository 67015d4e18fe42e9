"""Handover's switches, each a Django setting with a default a company can override."""

from django.conf import settings

DEFAULT_MESSAGE = "{customer}您好，我是{successor}，{leaver}工作调整后，今后由我为您服务。有任何需要随时联系我。"


def completeness_min() -> int:
    """Files below this score are on the leaver's fill-in list."""
    return int(getattr(settings, "CUSTOS_HANDOVER_COMPLETENESS_MIN", 60))


def daily_cap() -> int | None:
    """How many customers one person may receive per day through plans; None: no cap."""
    return getattr(settings, "CUSTOS_HANDOVER_DAILY_CAP", 50)


def move_limit() -> tuple[int, int]:
    """(moves, days): a customer is moved at most this often (WeCom: 2 in 90 days)."""
    moves, days = getattr(settings, "CUSTOS_HANDOVER_MOVE_LIMIT", (2, 90))
    return int(moves), int(days)


def senior_rule() -> dict:
    """Who counts as "senior" for rule-based allocation: any of these roles, or this tenure."""
    return {"roles": ["manager", "executive", "admin"], "min_days": 730, **getattr(settings, "CUSTOS_HANDOVER_SENIOR", {})}


def grade_rule() -> dict[str, str]:
    """By-rule allocation: customer grade → the class of receiver it must go to."""
    return dict(getattr(settings, "CUSTOS_HANDOVER_GRADE_RULE", {"A": "senior"}))


def recent_purchase_days() -> int:
    """A purchase this recent counts as an open order the successor must carry on."""
    return int(getattr(settings, "CUSTOS_HANDOVER_RECENT_PURCHASE_DAYS", 30))


def message_template() -> str:
    return getattr(settings, "CUSTOS_HANDOVER_MESSAGE", DEFAULT_MESSAGE)


def rotation_months() -> int:
    return int(getattr(settings, "CUSTOS_ROTATION_MONTHS", 6))


def freeze_hour() -> int:
    """The local hour on the last working day when the leaver is frozen by the periodic task."""
    return int(getattr(settings, "CUSTOS_HANDOVER_FREEZE_HOUR", 18))
