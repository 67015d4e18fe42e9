"""Which customer an ingested event is about, decided once, when it is appended.

In order: a contact a manager linked to a customer; the contact's id as a customer's WeCom or
WeChat id; a phone number (the call's, or the one the contact was added with) as a customer's
phone. Look-ups go through the customers' blind indexes, so no number is compared in clear.
A batch is matched with a handful of queries, whatever its size.
"""

from custos.archive import pseudonym
from custos.archive.models import ExternalContact
from custos.customers import contacts
from custos.customers.models import CustomerContact
from custos.ledger.services import Event

Kind = CustomerContact.Kind


def _by_index(indexes: set[str]) -> dict[str, int]:
    if not indexes:
        return {}
    rows = CustomerContact.objects.filter(
        removed_at__isnull=True, blind_index__in=list(indexes), customer__merged_into__isnull=True
    ).values_list("blind_index", "customer_id")
    return dict(rows)


def match_customers(events: list[Event]) -> None:
    contact_keys = {e.payload["contact"] for e in events if e.payload.get("contact")}
    known = {
        c.external_id: c
        for c in ExternalContact.objects.filter(external_id__in=list(contact_keys)).only(
            "external_id", "customer_id", "phone_index"
        )
    }
    id_index = {}
    for key in contact_keys:
        wechat = pseudonym.wechat_index(key)
        if wechat is not None:
            id_index[key] = (wechat,)
            continue
        lowered = key.lower()
        if " " in lowered or len(lowered) > 64:
            continue
        id_index[key] = (contacts.index(Kind.WECOM, lowered), contacts.index(Kind.WECHAT, lowered))
    phones = {e.payload.get("number_index") or e.payload.get("phone_index") for e in events} - {None}
    phones |= {c.phone_index for c in known.values() if c.phone_index}
    found = _by_index({i for pair in id_index.values() for i in pair} | phones)
    for event in events:
        p = event.payload
        key = p.get("contact")
        customer = None
        if key:
            contact = known.get(key)
            customer = contact.customer_id if contact else None
            for index in id_index.get(key, ()):
                customer = customer or found.get(index)
            if customer is None and contact is not None and contact.phone_index:
                customer = found.get(contact.phone_index)
        phone = p.get("number_index") or p.get("phone_index")
        if customer is None and phone:
            customer = found.get(phone)
        event.customer_id = customer
