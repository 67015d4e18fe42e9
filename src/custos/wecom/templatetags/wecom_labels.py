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
