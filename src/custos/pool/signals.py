"""Signals for apps above the pool (the WeCom connector tells owners in WeCom itself)."""

from django.dispatch import Signal

# sent inside the transaction that closes a recycle run, with run=RecycleRun and
# notices=[RecycleNotice, ...] (the reminders of this run, customer, owner and rule loaded)
reminders_sent = Signal()
