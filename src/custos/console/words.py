"""Words, not codes: what the console shows for a ledger kind, a payload's field, a hit's rule.

The ledger keeps its codes (`contact.deleted_by_staff`, `from_unit`); people read 删除客户 and 原单元.
A code with no label here is shown as it is, so a new kind is never hidden, only untranslated.
"""

import json
from decimal import Decimal, InvalidOperation

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy

KINDS = {
    "access.attachment_viewed": gettext_lazy("Opened an attachment"),
    "access.conversation_viewed": gettext_lazy("Read a conversation"),
    "access.phone_searched": gettext_lazy("Searched customers by phone"),
    "access.revealed": gettext_lazy("Saw a contact in clear"),
    "access.totp": gettext_lazy("Two-step sign-in"),
    "alert.acknowledged": gettext_lazy("Alert acknowledged"),
    "alert.false_positive": gettext_lazy("Alert marked a false positive"),
    "alert.raised": gettext_lazy("Alert raised"),
    "alert.resolved": gettext_lazy("Alert resolved"),
    "alert.threshold_set": gettext_lazy("Alert threshold set"),
    "alert.webhook_created": gettext_lazy("Webhook added"),
    "alert.webhook_disabled": gettext_lazy("Webhook disabled"),
    "alert.webhook_enabled": gettext_lazy("Webhook enabled"),
    "auth.locked_out": gettext_lazy("Sign-ins locked after failures"),
    "auth.login": gettext_lazy("Signed in"),
    "auth.login_failed": gettext_lazy("Sign-in failed"),
    "auth.login_refused_locked": gettext_lazy("Sign-in refused: locked"),
    "auth.password_changed": gettext_lazy("Password changed"),
    "auth.token_issued": gettext_lazy("API token issued"),
    "auth.token_revoked": gettext_lazy("API token revoked"),
    "auth.totp_disabled": gettext_lazy("Two-step sign-in turned off"),
    "auth.totp_enrolled": gettext_lazy("Two-step sign-in turned on"),
    "call.logged": gettext_lazy("Phone call"),
    "care.task_created": gettext_lazy("Care task created"),
    "chat.deleted_on_device": gettext_lazy("Chat deleted on the work phone"),
    "contact.added": gettext_lazy("Customer added on WeCom"),
    "contact.deleted_by_customer": gettext_lazy("Customer deleted the employee"),
    "contact.deleted_by_staff": gettext_lazy("Employee deleted the customer"),
    "contact.transfer_failed": gettext_lazy("WeCom handover of the customer failed"),
    "contact.updated": gettext_lazy("WeCom contact changed"),
    "conversation.linked": gettext_lazy("Conversation linked to a customer"),
    "customer.archived": gettext_lazy("Customer archived"),
    "customer.contact_added": gettext_lazy("Contact added"),
    "customer.contact_removed": gettext_lazy("Contact removed"),
    "customer.created": gettext_lazy("Customer created"),
    "customer.exported": gettext_lazy("Customers exported"),
    "customer.feedback_added": gettext_lazy("Feedback recorded"),
    "customer.follow_up_added": gettext_lazy("Follow-up recorded"),
    "customer.merged": gettext_lazy("Customers merged"),
    "customer.merged_into": gettext_lazy("Merged into another customer"),
    "customer.owner_changed": gettext_lazy("Owner changed"),
    "customer.purchase_added": gettext_lazy("Purchase recorded"),
    "customer.restored": gettext_lazy("Customer restored"),
    "customer.updated": gettext_lazy("Customer file changed"),
    "device.command_acknowledged": gettext_lazy("Work phone carried out a command"),
    "device.policy_published": gettext_lazy("Work phone policy published"),
    "evidence.package_created": gettext_lazy("Evidence package made"),
    "evidence.package_downloaded": gettext_lazy("Evidence package downloaded"),
    "evidence.package_expired": gettext_lazy("Evidence package expired"),
    "group.created": gettext_lazy("Group chat created"),
    "group.dismissed": gettext_lazy("Group chat dismissed"),
    "group.member_added": gettext_lazy("Member joined a group chat"),
    "group.member_removed": gettext_lazy("Member left a group chat"),
    "group.owner_changed": gettext_lazy("Group chat owner changed"),
    "group.renamed": gettext_lazy("Group chat renamed"),
    "group.updated": gettext_lazy("Group chat changed"),
    "handover.case_closed": gettext_lazy("Handover closed"),
    "handover.case_opened": gettext_lazy("Handover opened"),
    "handover.item_waived": gettext_lazy("Handover item waived"),
    "handover.lock_queued": gettext_lazy("Accounts queued for locking"),
    "handover.plan_committed": gettext_lazy("Customers handed over"),
    "handover.rotation_created": gettext_lazy("Rotation planned"),
    "insights.csv_downloaded": gettext_lazy("Figures downloaded"),
    "insights.weekly_sent": gettext_lazy("Weekly report sent"),
    "keys.rotated": gettext_lazy("Encryption key rotated"),
    "keys.rotation_started": gettext_lazy("Key rotation started"),
    "keys.rotation_superseded": gettext_lazy("Key rotation superseded"),
    "lexicon.allowed_added": gettext_lazy("Allowed phrase added"),
    "lexicon.allowed_disabled": gettext_lazy("Allowed phrase disabled"),
    "lexicon.allowed_enabled": gettext_lazy("Allowed phrase enabled"),
    "lexicon.imported": gettext_lazy("Sensitive words imported"),
    "lexicon.term_added": gettext_lazy("Sensitive word added"),
    "lexicon.term_disabled": gettext_lazy("Sensitive word disabled"),
    "lexicon.term_enabled": gettext_lazy("Sensitive word enabled"),
    "message.recalled": gettext_lazy("Message recalled"),
    "message.received": gettext_lazy("Message received"),
    "message.sent": gettext_lazy("Message sent"),
    "org.employee_created": gettext_lazy("Employee added"),
    "org.employee_frozen": gettext_lazy("Employee frozen"),
    "org.employee_moved": gettext_lazy("Employee moved"),
    "org.employee_renamed": gettext_lazy("Employee renamed"),
    "org.employee_unfrozen": gettext_lazy("Employee unfrozen"),
    "org.role_changed": gettext_lazy("Role changed"),
    "org.settings_changed": gettext_lazy("Company settings changed"),
    "org.status_changed": gettext_lazy("Employee status changed"),
    "org.unit_created": gettext_lazy("Unit created"),
    "org.unit_renamed": gettext_lazy("Unit renamed"),
    "pool.allocation_committed": gettext_lazy("Pool customers allocated"),
    "pool.created": gettext_lazy("Pool created"),
    "pool.leave_added": gettext_lazy("Leave recorded"),
    "pool.member_removed": gettext_lazy("Pool member removed"),
    "pool.member_set": gettext_lazy("Pool member set"),
    "pool.protected": gettext_lazy("Customer protected from recycling"),
    "pool.recycle_finished": gettext_lazy("Recycling run finished"),
    "pool.recycle_reminded": gettext_lazy("Recycling reminder sent"),
    "pool.rule_removed": gettext_lazy("Recycling rule removed"),
    "pool.rule_set": gettext_lazy("Recycling rule set"),
    "pool.shift_set": gettext_lazy("Shift set"),
    "pool.unprotected": gettext_lazy("Recycling protection lifted"),
    "pool.updated": gettext_lazy("Pool changed"),
    "retention.redacted": gettext_lazy("Bodies removed under a retention rule"),
    "retention.rule_removed": gettext_lazy("Retention rule removed"),
    "retention.rule_set": gettext_lazy("Retention rule set"),
    "risk.bulk_export": gettext_lazy("Bulk export"),
    "risk.bulk_reveal": gettext_lazy("Too many contacts revealed"),
    "wecom.archive_configured": gettext_lazy("WeCom archive set up"),
    "wecom.archive_key_added": gettext_lazy("WeCom archive key added"),
    "wecom.configured": gettext_lazy("WeCom connected"),
    "wecom.device_switched": gettext_lazy("WeCom device switched"),
    "wecom.tag_changed": gettext_lazy("WeCom tag changed"),
    "wecom.transfer_settled": gettext_lazy("WeCom handover settled"),
}

AREAS = {
    "auth.": gettext_lazy("Sign-ins"),
    "org.": gettext_lazy("Organisation"),
    "customer.": gettext_lazy("Customers"),
    "access.": gettext_lazy("Access to data"),
    "risk.": gettext_lazy("Risks"),
    "message.": gettext_lazy("Messages"),
    "call.": gettext_lazy("Calls"),
    "contact.": gettext_lazy("WeCom contacts"),
    "alert.": gettext_lazy("Alerts"),
    "retention.": gettext_lazy("Retention"),
}

FIELDS = {
    "agent_id": pgettext_lazy("ledger field", "App id"),
    "alert": pgettext_lazy("ledger field", "Alert"),
    "amount": pgettext_lazy("ledger field", "Amount"),
    "assignee": pgettext_lazy("ledger field", "Assignee"),
    "attachment": pgettext_lazy("ledger field", "Attachment"),
    "by": pgettext_lazy("ledger field", "By"),
    "by_transfer": pgettext_lazy("ledger field", "By WeCom handover"),
    "case": pgettext_lazy("ledger field", "Handover"),
    "category": pgettext_lazy("ledger field", "Category"),
    "change": pgettext_lazy("ledger field", "Change"),
    "changed": pgettext_lazy("ledger field", "Changed"),
    "claims_per_day": pgettext_lazy("ledger field", "Claims a day"),
    "contact": pgettext_lazy("ledger field", "Contact"),
    "contacts": pgettext_lazy("ledger field", "Contacts"),
    "content": pgettext_lazy("ledger field", "Content"),
    "conversation": pgettext_lazy("ledger field", "Conversation"),
    "count": pgettext_lazy("ledger field", "Count"),
    "customer": pgettext_lazy("ledger field", "Customer"),
    "daily_cap": pgettext_lazy("ledger field", "Daily limit"),
    "days": pgettext_lazy("ledger field", "Days"),
    "direction": pgettext_lazy("ledger field", "Direction"),
    "due_on": pgettext_lazy("ledger field", "Due"),
    "duration_s": pgettext_lazy("ledger field", "Duration (s)"),
    "employee": pgettext_lazy("ledger field", "Employee"),
    "enabled": pgettext_lazy("ledger field", "Enabled"),
    "ends": pgettext_lazy("ledger field", "Ends"),
    "errcode": pgettext_lazy("ledger field", "Error code"),
    "evidence": pgettext_lazy("ledger field", "Evidence"),
    "expires_at": pgettext_lazy("ledger field", "Expires"),
    "feedback": pgettext_lazy("ledger field", "Feedback"),
    "filters": pgettext_lazy("ledger field", "Filters"),
    "follow_up": pgettext_lazy("ledger field", "Follow-up"),
    "found": pgettext_lazy("ledger field", "Found"),
    "from": pgettext_lazy("ledger field", "From"),
    "from_status": pgettext_lazy("ledger field", "Previous status"),
    "from_unit": pgettext_lazy("ledger field", "Previous unit"),
    "grade": pgettext_lazy("ledger field", "Grade"),
    "group": pgettext_lazy("ledger field", "Group chat"),
    "has_company_observer": pgettext_lazy("ledger field", "A company observer in the group"),
    "item": pgettext_lazy("ledger field", "Item"),
    "kind": pgettext_lazy("ledger field", "Kind"),
    "label": pgettext_lazy("ledger field", "Label"),
    "last_day": pgettext_lazy("ledger field", "Last day"),
    "limit": pgettext_lazy("ledger field", "Limit"),
    "masked": pgettext_lazy("ledger field", "Contact (masked)"),
    "members": pgettext_lazy("ledger field", "Members"),
    "message": pgettext_lazy("ledger field", "Message"),
    "moved": pgettext_lazy("ledger field", "Moved"),
    "msgtype": pgettext_lazy("ledger field", "Message type"),
    "name": pgettext_lazy("ledger field", "Name"),
    "next_follow_up_on": pgettext_lazy("ledger field", "Next follow-up"),
    "note": pgettext_lazy("ledger field", "Note"),
    "number_masked": pgettext_lazy("ledger field", "Number (masked)"),
    "observers": pgettext_lazy("ledger field", "Observers"),
    "outcome": pgettext_lazy("ledger field", "Outcome"),
    "owner": pgettext_lazy("ledger field", "Owner"),
    "parent": pgettext_lazy("ledger field", "Parent unit"),
    "phone_masked": pgettext_lazy("ledger field", "Phone (masked)"),
    "plan": pgettext_lazy("ledger field", "Plan"),
    "pool": pgettext_lazy("ledger field", "Pool"),
    "product": pgettext_lazy("ledger field", "Product"),
    "purchased_on": pgettext_lazy("ledger field", "Purchased on"),
    "rating": pgettext_lazy("ledger field", "Rating"),
    "reason": pgettext_lazy("ledger field", "Reason"),
    "receivers": pgettext_lazy("ledger field", "Receivers"),
    "role": pgettext_lazy("ledger field", "Role"),
    "rows": pgettext_lazy("ledger field", "Rows"),
    "rule": pgettext_lazy("ledger field", "Rule"),
    "rule_kind": pgettext_lazy("ledger field", "Rule kind"),
    "searched": pgettext_lazy("ledger field", "Searched for"),
    "sender_role": pgettext_lazy("ledger field", "Sent by"),
    "severity": pgettext_lazy("ledger field", "Severity"),
    "skipped": pgettext_lazy("ledger field", "Skipped"),
    "source": pgettext_lazy("ledger field", "Source"),
    "starts": pgettext_lazy("ledger field", "Starts"),
    "status": pgettext_lazy("ledger field", "Status"),
    "strategy": pgettext_lazy("ledger field", "Strategy"),
    "tags": pgettext_lazy("ledger field", "Tags"),
    "task": pgettext_lazy("ledger field", "Task"),
    "text": pgettext_lazy("ledger field", "Text"),
    "to": pgettext_lazy("ledger field", "To"),
    "to_status": pgettext_lazy("ledger field", "New status"),
    "to_unit": pgettext_lazy("ledger field", "New unit"),
    "unit": pgettext_lazy("ledger field", "Unit"),
    "username": pgettext_lazy("ledger field", "User name"),
    "waived": pgettext_lazy("ledger field", "Waived"),
}

VALUES = {
    "change": {
        "assign": pgettext_lazy("ledger field", "Assigned"),
        "transfer": pgettext_lazy("ledger field", "Transferred"),
        "claim": pgettext_lazy("ledger field", "Claimed from the pool"),
        "recycle": pgettext_lazy("ledger field", "Put back into the pool"),
        "allocate": pgettext_lazy("ledger field", "Allocated from the pool"),
        "after_handover": pgettext_lazy("ledger field", "After a handover"),
    },
    "sender_role": {
        "staff": pgettext_lazy("ledger field", "Employee"),
        "customer": pgettext_lazy("ledger field", "Customer"),
    },
    "direction": {
        "in": pgettext_lazy("ledger field", "Incoming"),
        "out": pgettext_lazy("ledger field", "Outgoing"),
    },
    "by": {
        "phone": pgettext_lazy("ledger field", "Full number"),
        "tail": pgettext_lazy("ledger field", "Last four digits"),
    },
    "msgtype": {
        "text": pgettext_lazy("ledger field", "Text"),
        "image": pgettext_lazy("ledger field", "Picture"),
        "voice": pgettext_lazy("ledger field", "Voice"),
        "video": pgettext_lazy("ledger field", "Video"),
        "file": pgettext_lazy("ledger field", "File"),
        "redpacket": pgettext_lazy("ledger field", "Red packet"),
        "transfer": pgettext_lazy("ledger field", "Money transfer"),
        "link": pgettext_lazy("ledger field", "Link"),
        "location": pgettext_lazy("ledger field", "Location"),
        "emotion": pgettext_lazy("ledger field", "Sticker"),
        "card": pgettext_lazy("ledger field", "Contact card"),
        "system": pgettext_lazy("ledger field", "System message"),
    },
}

# The detection engine's rules (detection/data/default_rules.toml, engine.py) as a hit names them.
HIT_RULES = {
    "near:add_me_on_private_app": gettext_lazy("asks to be added on a private app"),
    "near:contact_me_on_private_app": gettext_lazy("asks to be contacted on a private app"),
    "near:pay_to_my_account": gettext_lazy("asks for payment to a private account"),
    "near:pay_me_through_private_channel": gettext_lazy("asks for payment through a private channel"),
    "near:cash_to_me": gettext_lazy("asks for cash in hand"),
    "near:follow_me_after_leaving": gettext_lazy("asks the customer to follow after leaving"),
    "near:opened_own_shop": gettext_lazy("mentions opening an own shop"),
    "near:privately_do_a_deal": gettext_lazy("offers a private deal"),
    "near:quietly_do_a_deal": gettext_lazy("offers a deal on the quiet"),
    "near:privately_pay": gettext_lazy("asks to be paid privately"),
    "near:cut_for_you": gettext_lazy("offers a kickback"),
    "near:cut_for_me": gettext_lazy("asks for a kickback"),
    "contact:mobile": gettext_lazy("a mobile number"),
    "contact:wechat_id": gettext_lazy("a WeChat id"),
    "contact:qq": gettext_lazy("a QQ number"),
    "contact:email": gettext_lazy("an e-mail address"),
}


def hit_rule(rule: str) -> str:
    """term:别走公司 → “别走公司”; near:... and contact:... in words."""
    if rule.startswith("term:"):
        return f"“{rule[5:]}”"
    label = HIT_RULES.get(rule)
    if label:
        return str(label)
    return rule.split(":", 1)[-1].replace("_", " ")


EMPLOYEE_KEYS = {"employee", "from", "to", "owner", "assignee", "actor", "receiver", "successor"}
UNIT_KEYS = {"unit", "from_unit", "to_unit", "parent"}
CUSTOMER_KEYS = {"customer"}
MONEY_FEN_KEYS = {"amount_fen", "money_min_fen"}
# Bodies people do not read: index hashes and raw transport fields.
HIDDEN = {
    "phone_index", "number_index", "raw", "cursor", "signing", "seed", "key", "token", "tokens",
    "secrets_changed", "api_base", "corp_id",
}  # fmt: skip


def kind_label(kind: str) -> str:
    label = KINDS.get(kind)
    return str(label) if label else kind


def field_label(key: str) -> str:
    label = FIELDS.get(key)
    return str(label) if label else key.replace("_", " ")


def yuan(fen) -> str:
    """分 as 元: 12345 → 123.45; whole amounts without decimals."""
    try:
        value = Decimal(int(fen)) / 100
    except (TypeError, ValueError, InvalidOperation):
        return "" if fen is None else str(fen)
    return f"{value:,.0f}" if value == value.to_integral() else f"{value:,.2f}"


def _link(name: str, url_name: str, pk) -> dict:
    try:
        url = reverse(url_name, args=[pk])
    except NoReverseMatch:
        url = ""
    return {"text": name, "url": url}


class Names:
    """The names behind the ids of many payloads, read in three queries for a whole page."""

    def __init__(self, viewer, payloads: list[dict], customer_ids=()):
        from custos.archive.models import ExternalContact, Group
        from custos.customers.selectors import customers_visible
        from custos.org.models import Employee, Unit

        employees, units, customers, externals, groups = set(), set(), set(customer_ids), set(), set()
        for p in payloads:
            for key, value in p.items():
                if isinstance(value, str) and key in ("contact", "ref", "conversation"):
                    externals.add(value)
                elif isinstance(value, str) and key == "group" and value:
                    groups.add(value)
                elif isinstance(value, int) and not isinstance(value, bool):
                    if key in EMPLOYEE_KEYS:
                        employees.add(value)
                    elif key in UNIT_KEYS:
                        units.add(value)
                    elif key in CUSTOMER_KEYS:
                        customers.add(value)
        # A WeCom or phone contact's key (wm..., tel_...) is shown as the person's name.
        self.externals = {
            key: (name, customer_id)
            for key, name, customer_id in ExternalContact.objects.filter(
                external_id__in=externals
            ).values_list("external_id", "name", "customer_id")
        }
        customers |= {c for _n, c in self.externals.values() if c}
        customers.discard(None)
        self.groups = dict(Group.objects.filter(group_key__in=groups).values_list("group_key", "name"))
        self.employees = dict(Employee.objects.filter(pk__in=employees).values_list("pk", "name"))
        self.units = dict(Unit.objects.filter(pk__in=units).values_list("pk", "name"))
        # Names of customers outside the viewer's scope stay unknown to them.
        self.customers = dict(customers_visible(viewer).filter(pk__in=customers).values_list("pk", "name"))

    def customer(self, pk) -> dict | None:
        if pk is None:
            return None
        name = self.customers.get(pk)
        return (
            _link(name, "customers:detail", pk)
            if name
            else {"text": _("Customer %(n)s") % {"n": pk}, "url": ""}
        )

    def external(self, key: str) -> dict:
        name, customer_id = self.externals.get(key, ("", None))
        if customer_id in self.customers:
            return _link(self.customers[customer_id], "customers:detail", customer_id)
        if name:
            return {"text": name, "url": ""}
        if key.startswith("tel_"):
            return {"text": _("a phone number"), "url": ""}
        return {"text": _("a WeCom contact"), "url": ""}

    def value(self, key: str, value):
        if isinstance(value, str) and key in ("contact", "ref") and value:
            return self.external(value)
        if key == "conversation":
            if isinstance(value, int) and not isinstance(value, bool):
                return _link(_("Open the conversation"), "archive:conversation", value)
            return self.external(value) if isinstance(value, str) and value else {"text": "—", "url": ""}
        if isinstance(value, str) and key == "group" and value:
            return {"text": self.groups.get(value) or _("a group chat"), "url": ""}
        if isinstance(value, int) and not isinstance(value, bool):
            if key in EMPLOYEE_KEYS and value in self.employees:
                return _link(self.employees[value], "console:staff_detail", value)
            if key in UNIT_KEYS and value in self.units:
                return {"text": self.units[value], "url": ""}
            if key in CUSTOMER_KEYS and value in self.customers:
                return _link(self.customers[value], "customers:detail", value)
            if key in MONEY_FEN_KEYS:
                return {"text": f"{yuan(value)} " + _("yuan"), "url": ""}
        return {"text": show(key, value), "url": ""}


def show(key: str, value) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if key in ("rule", "category") and isinstance(value, str):
        from custos.alerts.rules import CATEGORIES, RULES

        label = (RULES if key == "rule" else CATEGORIES).get(value)
        if label:
            return str(label)
    if key == "strategy" and isinstance(value, str):
        from custos.handover.views import STRATEGIES

        return str(dict(STRATEGIES).get(value, value))
    if key in VALUES and isinstance(value, str):
        label = VALUES[key].get(value)
        return str(label) if label else value
    if key == "kind" and isinstance(value, str) and "." in value:
        return kind_label(value)
    if isinstance(value, list):
        return "、".join(show(key, v) for v in value) if value else "—"
    if isinstance(value, dict):
        return "；".join(f"{field_label(k)}: {show(k, v)}" for k, v in value.items())
    return str(value)


def fields(payload: dict, names: Names) -> list[dict]:
    """A payload as labelled fields: [{"label", "text", "url"}], hashes and raw data left out."""
    out = []
    for key, value in payload.items():
        if key in HIDDEN:
            continue
        out.append({"label": field_label(key), **names.value(key, value)})
    return out


def describe_entries(viewer, entries) -> None:
    """Sets .kind_label, .fields and .customer_link on ledger entries (one page at a time)."""
    payloads = []
    for entry in entries:
        try:
            body = json.loads(entry.payload) if entry.payload is not None else None
        except ValueError:
            body = None
        entry.data = body if isinstance(body, dict) else None
        payloads.append(entry.data or {})
    names = Names(viewer, payloads, customer_ids={e.customer_id for e in entries})
    for entry in entries:
        entry.kind_label = kind_label(entry.kind)
        entry.fields = fields(entry.data, names) if entry.data is not None else []
        entry.customer_link = names.customer(entry.customer_id)
