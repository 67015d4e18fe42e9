from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CareConfig(AppConfig):
    name = "custos.care"
    label = "care"
    verbose_name = _("Care")

    def ready(self):
        # The desk calls each customer a handover moved (docs/care.md).
        from custos.care import services
        from custos.handover.signals import plan_committed

        plan_committed.connect(services.on_plan_committed, dispatch_uid="care.after_handover")
        # Level, points and the customer's lines on the customer's page.
        from custos.care.panels import customer_panel
        from custos.customers import panels

        panels.register("care", customer_panel)
        from custos.care import words

        words.register()
        # POS points sheets go through the customers' import jobs (dry run and progress in the worker).
        from custos.care import points_import

        points_import.register_sheet()
