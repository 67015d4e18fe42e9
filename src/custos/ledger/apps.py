from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    name = "custos.ledger"
    label = "ledger"
    verbose_name = _("Ledger")

    def ready(self):
        from custos.core import sealed

        # Re-sealing a payload changes no leaf: the leaf commits to the plain text (models.py).
        sealed.register("ledger.payload", "ledger.Entry", "payload", batch=2000)
