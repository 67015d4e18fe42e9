from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WeComConfig(AppConfig):
    name = "custos.wecom"
    label = "wecom"
    verbose_name = _("WeCom connector")

    def ready(self):
        from custos.alerts.signals import alerts_raised
        from custos.handover import panels
        from custos.handover.signals import plan_committed
        from custos.pool.signals import reminders_sent
        from custos.wecom import messages, secrets, transfers, views

        secrets.register_encrypted()
        panels.register("wecom.transfers", views.case_panel)
        plan_committed.connect(transfers.on_plan_committed, dispatch_uid="wecom.transfers")
        plan_committed.connect(messages.on_plan_committed, dispatch_uid="wecom.task_messages")
        alerts_raised.connect(messages.on_alerts_raised, dispatch_uid="wecom.alert_messages")
        reminders_sent.connect(messages.on_reminders_sent, dispatch_uid="wecom.pool_reminders")
