from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AlertsConfig(AppConfig):
    name = "custos.alerts"
    label = "alerts"
    verbose_name = _("Alerts")

    def ready(self):
        from django.core import checks

        from custos.alerts import detect, services
        from custos.alerts.checks import webhook_settings
        from custos.ledger import projections

        projections.register(detect.NAME, kinds=detect.KINDS, handle=detect.handle, reset=detect.reset)
        checks.register(webhook_settings)
        services.register_encrypted()
