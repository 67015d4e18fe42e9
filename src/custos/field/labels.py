"""Field work's words for the console's ledger and timeline views (custos.console.words): the
kinds of its entries and the fields of their payloads, in the viewer's language."""

from django.utils.translation import gettext_lazy, pgettext_lazy

KINDS = {
    "field.checked_in": gettext_lazy("Checked in at a customer's"),
    "field.checked_out": gettext_lazy("Checked out of a visit"),
    "field.track": gettext_lazy("Track points reported"),
    "field.site_set": gettext_lazy("Customer site set"),
    "field.site_removed": gettext_lazy("Customer site removed"),
    "field.area_set": gettext_lazy("Assigned area and shifts set"),
    "access.field_photo_viewed": gettext_lazy("Check-in photo viewed"),
}
FIELDS = {
    "visit": pgettext_lazy("ledger field", "Visit"),
    "site": pgettext_lazy("ledger field", "Site"),
    "distance_m": pgettext_lazy("ledger field", "Metres outside the site"),
    "mock_location": pgettext_lazy("ledger field", "Mock location"),
    "watermark": pgettext_lazy("ledger field", "Watermark"),
    "photo": pgettext_lazy("ledger field", "Photo"),
    "lat": pgettext_lazy("ledger field", "Latitude"),
    "lon": pgettext_lazy("ledger field", "Longitude"),
    "accuracy_m": pgettext_lazy("ledger field", "Accuracy (m)"),
    "radius_m": pgettext_lazy("ledger field", "Radius (m)"),
    "polygon": pgettext_lazy("ledger field", "Polygon"),
    "minutes": pgettext_lazy("ledger field", "Minutes"),
    "points": pgettext_lazy("ledger field", "Track points"),
    "shifts": pgettext_lazy("ledger field", "Shifts"),
}


def register() -> None:
    from custos.console import words

    for key, label in KINDS.items():
        words.KINDS.setdefault(key, label)
    for key, label in FIELDS.items():
        words.FIELDS.setdefault(key, label)
    words.AREAS.setdefault("field.", gettext_lazy("Field work"))
