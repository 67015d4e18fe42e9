"""Words for the counters a sync keeps (members_matched → 匹配员工)."""

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

COUNTS = {
    "members_matched": _("staff matched"),
    "members_created": _("new staff added"),
    "members_unmatched": _("members not added"),
    "members_missing": _("members gone from WeCom"),
    "units_created": _("new units"),
    "customers_created": _("new customers"),
    "customers_refused": _("contacts not added"),
    "relations": _("customer relations read"),
    "relations_new": _("new relations"),
    "relations_gone": _("relations gone from WeCom"),
}


@register.filter
def count_labels(counts: dict) -> list[tuple[str, int]]:
    return [(str(COUNTS.get(k, k)), v) for k, v in (counts or {}).items()]


# WeCom's names of its callback events, as its documentation calls them in Chinese.
EVENTS = {
    ("change_external_contact", "add_external_contact"): _("customer added"),
    ("change_external_contact", "add_half_external_contact"): _("customer added staff, not yet accepted"),
    ("change_external_contact", "edit_external_contact"): _("customer edited"),
    ("change_external_contact", "del_external_contact"): _("staff deleted a customer"),
    ("change_external_contact", "del_follow_user"): _("customer deleted staff"),
    ("change_external_contact", "transfer_fail"): _("customer transfer failed"),
    ("change_external_chat", "create"): _("customer group created"),
    ("change_external_chat", "update"): _("customer group changed"),
    ("change_external_chat", "dismiss"): _("customer group dismissed"),
    ("change_external_tag", ""): _("customer tags changed"),
    ("msgaudit_notify", ""): _("new messages in the chat archive"),
}


@register.simple_tag
def event_label(event: str, change_type: str) -> str:
    found = EVENTS.get((event, change_type)) or EVENTS.get((event, ""))
    if found:
        return str(found)
    return " · ".join(p for p in (event, change_type) if p) or "—"
