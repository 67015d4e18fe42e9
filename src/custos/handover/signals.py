"""Signals for apps above handover (the WeCom connector moves the contacts too)."""

from django.dispatch import Signal

# sent inside commit's transaction, after every customer moved, with plan=Plan and
# moves=[PlanMove, ...] (each with customer, from_employee and to_employee loaded)
plan_committed = Signal()

# sent inside the freeze's transaction once a case is frozen (by hand, on the last day, or found
# frozen on a refresh), with case=DepartureCase and actor=Employee or None; may be sent again for
# the same case, so receivers must be idempotent (the work-phone app queues lock and wipe)
case_frozen = Signal()
