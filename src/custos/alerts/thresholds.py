"""Rule settings per unit: the nearest unit up the tree that sets one wins, else the default here."""

from django.utils.translation import gettext_lazy as _

from custos.alerts.models import Threshold

DEFAULTS: dict[str, int] = {
    "dedupe_hours": 24,
    "deletions_count": 3,
    "deletions_hours": 24,
    "reveals_count": 15,
    "reveals_hours": 1,
    "money_min_fen": 0,
    "resigning_contacts": 8,
    "resigning_hours": 24,
    "collapse_recent_weeks": 2,
    "collapse_history_weeks": 12,
    "collapse_min_per_week": 3,
    "collapse_percent": 25,
}
BOUNDS: dict[str, tuple[int, int]] = {
    "dedupe_hours": (1, 24 * 30),
    "deletions_count": (2, 1000),
    "deletions_hours": (1, 24 * 30),
    "reveals_count": (1, 10000),
    "reveals_hours": (1, 24 * 7),
    "money_min_fen": (0, 10**9),
    "resigning_contacts": (1, 10000),
    "resigning_hours": (1, 24 * 30),
    "collapse_recent_weeks": (1, 12),
    "collapse_history_weeks": (2, 104),
    "collapse_min_per_week": (1, 1000),
    "collapse_percent": (1, 99),
}
LABELS = {
    "dedupe_hours": _("Hours in which the same rule, employee and customer make one alert"),
    "deletions_count": _("Deletions of customers that make a mass deletion"),
    "deletions_hours": _("... within this many hours"),
    "reveals_count": _("Contacts revealed in clear that make a bulk reveal"),
    "reveals_hours": _("... within this many hours"),
    "money_min_fen": _("Smallest red packet or transfer that raises an alert"),
    "resigning_contacts": _("Customers a resigning employee contacts that raise an alert"),
    "resigning_hours": _("... within this many hours"),
    "collapse_recent_weeks": _("Recent weeks compared with the pair's history"),
    "collapse_history_weeks": _("Weeks of history that make the pair's baseline"),
    "collapse_min_per_week": _("Messages a week a pair needs before its collapse counts"),
    "collapse_percent": _("Recent frequency below this percentage of the baseline is a collapse"),
}


def ancestor_ids(path: str) -> list[int]:
    """Unit ids from the root down to the unit itself, read off its materialised path."""
    return [int(part) for part in path.strip("/").split("/") if part]


def effective(path: str) -> dict[str, dict]:
    """Every setting for the unit at `path`: its value and the unit that set it (None: the default)."""
    chain = ancestor_ids(path)
    depth = {unit_id: i for i, unit_id in enumerate(chain)}
    found: dict[str, tuple[int, Threshold]] = {}
    for row in Threshold.objects.filter(unit_id__in=chain).select_related("unit"):
        d = depth[row.unit_id]
        if row.key in DEFAULTS and (row.key not in found or d > found[row.key][0]):
            found[row.key] = (d, row)
    result = {}
    for key, default in DEFAULTS.items():
        row = found.get(key, (None, None))[1]
        result[key] = {
            "key": key,
            "value": row.value if row else default,
            "default": default,
            "unit_id": row.unit_id if row else None,
            "unit_name": row.unit.name if row else None,
            "label": str(LABELS[key]),
        }
    return result


def values(path: str) -> dict[str, int]:
    return {key: item["value"] for key, item in effective(path).items()}
