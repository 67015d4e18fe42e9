from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DevicesConfig(AppConfig):
    name = "custos.devices"
    label = "devices"
    verbose_name = _("Work phones")

    def ready(self):
        from custos.alerts.rules import CATEGORIES, RULES
        from custos.devices import departures
        from custos.handover import checklist, panels
        from custos.handover.signals import case_frozen

        RULES.setdefault("device_offline", _("Work phone silent"))
        RULES.setdefault("device_sim_changed", _("SIM card or number changed on a work phone"))
        CATEGORIES.setdefault("device", _("Work phone"))
        case_frozen.connect(departures.on_case_frozen, dispatch_uid="devices.departure_lock_wipe")
        checklist.register(departures.KIND, departures.LABEL, departures.pending)
        panels.register("devices.departure", departures.panel)
