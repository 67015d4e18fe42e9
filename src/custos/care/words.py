"""How care's ledger kinds read on a customer's timeline and in the ledger views, in the viewer's
language (the console's custos.console.words looks them up; care adds its own at start-up)."""

from django.utils.translation import gettext_lazy

KINDS = {
    "care.responsibility_assigned": gettext_lazy("Line of work given"),
    "care.responsibility_ended": gettext_lazy("Line of work ended"),
    "care.cadence_set": gettext_lazy("Return-visit schedule set"),
    "care.task_created": gettext_lazy("Contact task made"),
    "care.task_done": gettext_lazy("Contact recorded by the service desk"),
    "care.complaint_routed": gettext_lazy("Complaint sent to the manager"),
    "care.complaint_resolved": gettext_lazy("Complaint resolved"),
    "care.plan_created": gettext_lazy("Key-account plan made"),
    "care.plan_ended": gettext_lazy("Key-account plan ended"),
    "care.plan_visited": gettext_lazy("Key-account visit recorded"),
    "care.plan_reminded": gettext_lazy("Key-account visit reminder"),
    "care.template_added": gettext_lazy("Greeting template added"),
    "care.holiday_set": gettext_lazy("Holiday set"),
    "loyalty.program_set": gettext_lazy("Loyalty programme set"),
    "loyalty.level_set": gettext_lazy("Member level set"),
    "loyalty.points_earned": gettext_lazy("Points earned"),
    "loyalty.points_spent": gettext_lazy("Points spent"),
    "loyalty.points_expired": gettext_lazy("Points expired"),
    "loyalty.points_imported": gettext_lazy("Points imported"),
    "loyalty.level_changed": gettext_lazy("Member level changed"),
}


def register() -> None:
    from custos.console import words

    for kind, label in KINDS.items():
        words.KINDS.setdefault(kind, label)
