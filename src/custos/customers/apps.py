from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "custos.customers"
    label = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from custos.customers import imports, keys, projection
        from custos.ledger import projections

        projections.register(
            projection.NAME, kinds=projection.KINDS, handle=projection.handle, reset=projection.reset
        )
        keys.register()
        imports.register_encrypted()
