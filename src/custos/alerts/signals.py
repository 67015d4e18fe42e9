"""Signals for apps above alerts (connectors) that act on new alerts without alerts knowing them."""

from django.dispatch import Signal

# sent inside the transaction that raised them, with alerts=[Alert, ...]
alerts_raised = Signal()
