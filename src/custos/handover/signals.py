"""Signals for apps above handover (the WeCom connector moves the contacts too)."""

from django.dispatch import Signal

# sent inside commit's transaction, after every customer moved, with plan=Plan and
# moves=[PlanMove, ...] (each with customer, from_employee and to_employee loaded)
plan_committed = Signal()
