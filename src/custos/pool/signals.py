"""Signals for apps above the pool (the WeCom connector tells owners in WeCom itself)."""

from django.dispatch import Signal

# sent inside the transaction that closes a recycle run, with run=RecycleRun and
# reminders=[pool.reminders.Reminder, ...] (this run's: customer and owner ids and names, pool, due_on)
reminders_sent = Signal()
