"""How complete a customer file is, 0-100: the share of weighted facts that are filled in.

A file that only its salesperson could fill in is the file that leaves with them; the score
shows managers whose customers exist only in someone's head. Keys are dotted paths into the
profile, or "contact.<kind>" for a contact in use. A company overrides any kind's weights with
settings.CUSTOS_COMPLETENESS_WEIGHTS = {"person": {...}}.
"""

from django.conf import settings

WEIGHTS: dict[str, dict[str, int]] = {
    "person": {
        "contact.phone": 15,
        "contact.wechat": 10,
        "contact.address": 8,
        "birthday": 10,
        "gender": 2,
        "occupation": 5,
        "preferences.sizes": 8,
        "preferences.styles": 8,
        "preferences.budget": 6,
        "family.spouse": 7,
        "family.children": 7,
        "family.elders": 6,
        "notes": 8,
    },
    "company": {
        "contact.phone": 10,
        "contact.wechat": 5,
        "contact.address": 5,
        "overview": 15,
        "business": 15,
        "boss": 20,
        "settlement": 15,
        "key_staff": 15,
    },
}


def weights(kind: str) -> dict[str, int]:
    override = getattr(settings, "CUSTOS_COMPLETENESS_WEIGHTS", None) or {}
    return override.get(kind) or WEIGHTS.get(kind, {})


def _filled(profile: dict, path: str) -> bool:
    value = profile
    for part in path.split("."):
        if not isinstance(value, dict):
            return False
        value = value.get(part)
    return value not in (None, "", [], {})


def score(kind: str, profile: dict, contact_kinds: set[str]) -> int:
    table = weights(kind)
    total = sum(table.values())
    if total <= 0:
        return 0
    got = 0
    for key, weight in table.items():
        if key.startswith("contact."):
            filled = key.removeprefix("contact.") in contact_kinds
        else:
            filled = _filled(profile or {}, key)
        got += weight if filled else 0
    return round(100 * got / total)


def score_of(customer) -> int:
    """The score of a saved customer, from its profile and its contacts in use."""
    kinds = set(customer.contacts.filter(removed_at__isnull=True).values_list("kind", flat=True))
    return score(customer.kind, customer.profile, kinds)
