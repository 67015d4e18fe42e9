"""The churn score: a sum of fixed points, one per reason that holds, capped at 100.

No model and no hidden weights: a manager reads which reasons hold and how many points each adds,
and can check every one against the customer's page. The thresholds compare the customer with
their own past (the 150 days before the last 30), not with other customers.
"""

from datetime import datetime

from django.utils.translation import gettext_lazy as _

# Points each reason adds; shown on the dashboards beside every score.
WEIGHTS = {
    "silent": 25,
    "fading": 15,
    "owner_contact_collapsed": 20,
    "owner_departed": 25,
    "owner_resigning": 15,
    "deleted_staff": 30,
    "unanswered": 10,
    "complaint": 15,
}
LABELS = {
    "silent": _("Silent for %(silent_days)s days; used to be in touch every %(usual_gap_days)s days"),
    "fading": _("%(recent)s messages or purchases in the last 30 days; %(usual)s a month before"),
    "owner_contact_collapsed": _(
        "Contact with the owner fell to %(recent)s messages in 30 days from %(usual)s a month"
    ),
    "owner_departed": _("The owner has left the company"),
    "owner_resigning": _("The owner is resigning"),
    "deleted_staff": _("The customer deleted the staff member on WeChat"),
    "unanswered": _("The customer's last message has waited over a day for an answer"),
    "complaint": _("A complaint or a low rating in the last 60 days"),
}
# The reasons' short names, for the table of weights.
NAMES = {
    "silent": _("Silent far longer than usual"),
    "fading": _("Writes or buys less than usual"),
    "owner_contact_collapsed": _("Contact with the owner collapsed"),
    "owner_departed": _("Owner departed"),
    "owner_resigning": _("Owner resigning"),
    "deleted_staff": _("Deleted the staff member"),
    "unanswered": _("Left unanswered"),
    "complaint": _("Recent complaint"),
}
AT_RISK = 40  # a score from which a customer counts as at risk on the dashboards
BASE_DAYS = 150  # the history window before the recent 30 days
RECENT_DAYS = 30
COMPLAINT_DAYS = 60
MIN_SILENT_DAYS = 14


def reasons(
    *,
    now: datetime,
    customer_messages: int,
    customer_messages_before: int,
    last_interaction: datetime | None,
    pair_recent: int,
    pair_before: int,
    owner_status: str,
    deleted_staff: bool,
    unanswered: bool,
    complaint: bool,
) -> list[dict]:
    """The reasons that hold, each {"code", "points", "facts"}, in the order of WEIGHTS."""
    out = []

    def add(code, **facts):
        out.append({"code": code, "points": WEIGHTS[code], "facts": facts})

    usual_month = customer_messages_before * RECENT_DAYS / BASE_DAYS
    if customer_messages_before >= 2 and last_interaction is not None:
        usual_gap = BASE_DAYS / customer_messages_before
        silent = (now - last_interaction).days
        if silent >= max(MIN_SILENT_DAYS, 2 * usual_gap):
            add("silent", silent_days=silent, usual_gap_days=round(usual_gap))
    if usual_month >= 2 and customer_messages < usual_month / 2:
        add("fading", recent=customer_messages, usual=round(usual_month, 1))
    pair_month = pair_before * RECENT_DAYS / BASE_DAYS
    if pair_month >= 3 and pair_recent < pair_month / 3:
        add("owner_contact_collapsed", recent=pair_recent, usual=round(pair_month, 1))
    if owner_status == "departed":
        add("owner_departed")
    elif owner_status == "resigning":
        add("owner_resigning")
    if deleted_staff:
        add("deleted_staff")
    if unanswered:
        add("unanswered")
    if complaint:
        add("complaint")
    # Keep the order of WEIGHTS whatever the order of the checks above.
    order = list(WEIGHTS)
    return sorted(out, key=lambda r: order.index(r["code"]))


def total(found: list[dict]) -> int:
    return min(100, sum(r["points"] for r in found))


def explain(reason: dict) -> str:
    """The reason in the reader's language, with its facts filled in."""
    return (
        str(LABELS[reason["code"]]) % reason.get("facts", {})
        if reason.get("facts")
        else str(LABELS[reason["code"]])
    )
